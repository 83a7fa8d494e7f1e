import type Database from 'better-sqlite3';
import { FsError } from '../../errors.js';

/**
 * Group commit: write operations share one open SQLite transaction that is committed at most
 * `delayMs` after its first operation (a timer), or at once by commit() (sync, close, GC, process
 * exit). Each operation runs in its own SAVEPOINT (better-sqlite3 nests a transaction function called
 * inside an open transaction that way), so a failing operation rolls back alone and the open
 * transaction is consistent after every operation: whatever instant it commits, it commits whole
 * operations. Reads on the same connection see the uncommitted writes.
 *
 * What a crash of the process can lose: operations of the last window (at most delayMs, plus however
 * late the timer fires on a busy event loop) that no commit() covered. delayMs 0: one IMMEDIATE
 * transaction per operation, as without grouping.
 *
 * If SQLite itself abandons the open transaction (an I/O error or a full disk while writing it, or a
 * failed COMMIT), operations already answered as done are gone: from then on every operation fails
 * with EIO rather than go on from a state that contradicts what callers were told (as ext4 remounts
 * read-only on a journal error).
 */
export class GroupCommit {
  private timer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  /** Inside our open transaction this runs fn in a SAVEPOINT; outside, in a transaction of its own. */
  private readonly tx: (fn: () => unknown) => unknown;
  private readonly immediateTx: (fn: () => unknown) => unknown;

  constructor(private readonly db: Database.Database, readonly delayMs: number) {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`commitDelayMs ${delayMs}`);
    const tx = db.transaction((fn: () => unknown) => fn());
    this.tx = tx;
    this.immediateTx = tx.immediate;
  }

  /** Run one write operation atomically; it is committed with its group. */
  run<T>(fn: () => T): T {
    this.assertHealthy();
    if (this.delayMs === 0) return this.immediateTx(fn) as T;
    if (!this.db.inTransaction) this.begin();
    try {
      return this.tx(fn) as T;
    } finally {
      if (!this.db.inTransaction) this.fail(new Error('SQLite rolled back the open transaction'));
    }
  }

  /** Commit the open group now (no-op when none is open). Throws EIO if the group is lost. */
  commit(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.assertHealthy();
    if (!this.db.open || !this.db.inTransaction) return;
    try {
      this.db.exec('COMMIT');
      openGroups.delete(this);
    } catch (err) {
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // the connection is unusable; fail() below says why
        }
      }
      this.fail(err as Error);
    }
  }

  private begin(): void {
    this.db.exec('BEGIN IMMEDIATE');
    openGroups.add(this);
    watchProcessExit();
    this.timer = setTimeout(() => this.commitFromTimer(), this.delayMs);
    // A CLI process must be able to end with a group open: the exit hook commits it.
    this.timer.unref();
  }

  private commitFromTimer(): void {
    this.timer = null;
    try {
      this.commit();
    } catch {
      // Recorded in this.failure: the next operation (or sync) reports it.
    }
  }

  private assertHealthy(): void {
    if (this.failure) {
      throw new FsError('EIO', `metadata store failed earlier, recent changes were lost: ${this.failure.message}`);
    }
  }

  private fail(cause: Error): never {
    this.failure ??= cause;
    openGroups.delete(this);
    throw new FsError('EIO', `metadata group commit lost: ${cause.message}`);
  }

  /** Stop tracking (the caller closes the connection). */
  forget(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    openGroups.delete(this);
  }
}

/** Groups with uncommitted operations: committed when the process exits normally (exit(), end of work). */
const openGroups = new Set<GroupCommit>();
let watching = false;

function watchProcessExit(): void {
  if (watching) return;
  watching = true;
  process.on('exit', () => {
    for (const g of openGroups) {
      try {
        g.commit();
      } catch {
        // nothing left to report to at exit
      }
    }
  });
}
