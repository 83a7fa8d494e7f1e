import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockInfo } from '../BlockStore.js';
import { fsyncPath } from './blockFiles.js';

/** File name of the small-block database inside a LocalBlockStore's folder. */
export const SMALL_DB_FILE = 'small.db';

/** Pages on the free list beyond which a checkpoint gives space back to the file system. */
const VACUUM_FREE_PAGES = 2048;
/** Bytes written since the last checkpoint beyond which one runs (bounds the WAL). */
const CHECKPOINT_BYTES = 16 * 1024 * 1024;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Small blocks as rows of one SQLite table (WAL journal, synchronous=OFF: every fsync is ours, from
 * the libuv pool, see sync() and checkpoint()), so a small block costs
 * a few microseconds of main-thread time instead of the open/write/close/rename/fsync round trips of
 * a file of its own.
 *
 * Writes are grouped: the first put or delete of an event-loop turn opens a transaction, every
 * operation of that turn runs in a SAVEPOINT of it (a failing one rolls back alone), and the
 * transaction is committed right after the turn (setImmediate). An operation's promise settles only
 * once its group is committed: a committed WAL transaction is in the kernel's page cache, so a put
 * that resolved survives a crash of the process (the BlockStore contract; the metadata may reference
 * the block the moment put resolves). This is why src/meta/sqlite/groupCommit.ts is not reused: it
 * answers operations before their commit, which metadata may do but a block store may not.
 *
 * Durability against power loss is deferred to sync(): it fsyncs the WAL file (and, the first time
 * after open, the database file and the folder, whose entries may be new). Committed frames not yet
 * checkpointed are in the WAL, which that fsync makes durable. A checkpoint does what SQLite's own
 * (synchronous=NORMAL) would: fsync the WAL before copying and the database after, before the WAL
 * may be reused.
 *
 * Space: a delete frees the row's pages, which later puts reuse; auto_vacuum=INCREMENTAL lets sync()
 * return a large free list to the file system.
 */
export class SmallBlockDb {
  private readonly insert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly selectData: Database.Statement;
  private readonly selectRange: Database.Statement;
  private readonly selectExists: Database.Statement;
  private readonly selectPage: Database.Statement;
  private readonly inSavepoint: (fn: () => unknown) => unknown;
  private group: Waiter[] | null = null;
  private dirtySinceSync = false;
  /** Entries of the database and WAL files in the folder are not yet known to be durable. */
  private entriesUnsynced = true;
  private closed = false;
  private bytesSinceCheckpoint = 0;
  /** While a checkpoint waits for its fsync, writes wait for this (see checkpoint()). */
  private writesHeld: Promise<void> | null = null;
  private checkpointing: Promise<void> | null = null;

  private constructor(private readonly db: Database.Database, readonly file: string) {
    this.insert = db.prepare('INSERT OR IGNORE INTO blocks (id, size, stored_ms, data) VALUES (?, ?, ?, ?)');
    this.remove = db.prepare('DELETE FROM blocks WHERE id = ?');
    this.selectData = db.prepare('SELECT data FROM blocks WHERE id = ?').pluck();
    this.selectRange = db.prepare('SELECT substr(data, ?, ?) FROM blocks WHERE id = ?').raw();
    this.selectExists = db.prepare('SELECT 1 FROM blocks WHERE id = ?').pluck();
    this.selectPage = db.prepare('SELECT id, size, stored_ms FROM blocks WHERE id > ? ORDER BY id LIMIT ?').raw();
    this.inSavepoint = db.transaction((fn: () => unknown) => fn());
  }

  /** Opens (creating it when `create`) the database in `dir`; null when absent and not created. */
  static open(dir: string, create: boolean): SmallBlockDb | null {
    const file = path.join(dir, SMALL_DB_FILE);
    if (!create && !fs.existsSync(file)) return null;
    const db = new Database(file);
    try {
      // Must precede the first table to take effect on a new database.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      // No fsync ever runs on this (the main) thread: see checkpoint() and sync().
      db.pragma('synchronous = OFF');
      db.pragma('wal_autocheckpoint = 0');
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_size_limit = 67108864');
      db.exec(`CREATE TABLE IF NOT EXISTS blocks (
        id BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        stored_ms INTEGER NOT NULL,
        data BLOB NOT NULL
      )`);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SmallBlockDb(db, file);
  }

  put(id: string, data: Uint8Array): Promise<void> {
    if (this.writesHeld) {
      const copy = Buffer.from(data);
      return this.writesHeld.then(() => this.put(id, copy));
    }
    this.bytesSinceCheckpoint += data.length;
    return this.write(() => this.insert.run(key(id), data.length, Date.now(), data));
  }

  /** Resolves true if a row was deleted. */
  delete(id: string): Promise<boolean> {
    if (this.writesHeld) return this.writesHeld.then(() => this.delete(id));
    let deleted = false;
    return this.write(() => {
      deleted = this.remove.run(key(id)).changes > 0;
    }).then(() => deleted);
  }

  /** Reads see operations whose group is not committed yet (same connection). */
  get(id: string): Buffer | undefined {
    return this.selectData.get(key(id)) as Buffer | undefined;
  }

  getRange(id: string, offset: number, length: number): Buffer | undefined {
    // substr is 1-based; on a BLOB it counts bytes and clips at the end (NULL for an empty blob).
    const row = this.selectRange.get(offset + 1, length, key(id)) as [Buffer | null] | undefined;
    if (!row) return undefined;
    return row[0] ?? Buffer.alloc(0);
  }

  has(id: string): boolean {
    return this.selectExists.get(key(id)) !== undefined;
  }

  /** Up to `limit` blocks with ids above `after` (hex; '' for the start), in id order. */
  page(after: string, limit: number): BlockInfo[] {
    const rows = this.selectPage.all(Buffer.from(after, 'hex'), limit) as [Buffer, number, number][];
    return rows.map(([id, size, storedMs]) => ({ id: id.toString('hex'), size, mtimeMs: storedMs }));
  }

  private write(op: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.file} is closed`));
    let group: Waiter[] | null = null;
    try {
      if (!this.group) this.begin();
      group = this.group!;
      this.inSavepoint(op);
    } catch (err) {
      if (!group) return Promise.reject(err);
      // SQLite may abandon the whole transaction (I/O error, full disk): the group is lost.
      if (!this.db.inTransaction) this.settle(group, err);
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => group.push({ resolve, reject }));
  }

  private begin(): void {
    this.db.exec('BEGIN IMMEDIATE');
    const group: Waiter[] = [];
    this.group = group;
    setImmediate(() => this.commit(group));
  }

  /** Commits `group` if it is still the open one (sync may have committed it already). */
  private commit(group: Waiter[]): void {
    if (this.group !== group) return;
    try {
      this.db.exec('COMMIT');
      this.dirtySinceSync = true;
      this.settle(group, null);
      if (this.bytesSinceCheckpoint >= CHECKPOINT_BYTES) void this.checkpoint().catch(() => undefined);
    } catch (err) {
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // the connection is unusable; every waiter learns why below
        }
      }
      this.settle(group, err);
    }
  }

  private settle(group: Waiter[], err: unknown): void {
    if (this.group === group) this.group = null;
    for (const w of group) {
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }

  /** Commits the open group and makes every committed write durable against power loss. */
  async sync(): Promise<void> {
    if (this.group) this.commit(this.group);
    if (!this.dirtySinceSync && !this.entriesUnsynced) return;
    this.dirtySinceSync = false;
    try {
      await fsyncPath(`${this.file}-wal`, false);
      if (this.entriesUnsynced) {
        await fsyncPath(this.file, false);
        await fsyncPath(path.dirname(this.file), true);
        this.entriesUnsynced = false;
      }
    } catch (err) {
      this.dirtySinceSync = true;
      throw err;
    }
  }

  /**
   * Fsyncs the WAL, copies it into the database file (synchronous=OFF: no fsync on this thread), then
   * fsyncs the database file; both fsyncs from the libuv pool. The WAL first: a page torn by a power
   * loss during the copy is repaired from its frame only if that frame is durable. Writes wait
   * meanwhile: the first write after a complete checkpoint starts the WAL over, which must not
   * happen before the copied pages are durable, or a power loss could lose frames that an earlier
   * sync() made durable.
   */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.runCheckpoint().finally(() => {
      this.checkpointing = null;
    });
    return this.checkpointing;
  }

  private async runCheckpoint(): Promise<void> {
    if (this.group) this.commit(this.group);
    this.bytesSinceCheckpoint = 0;
    let release!: () => void;
    this.writesHeld = new Promise((resolve) => (release = resolve));
    try {
      if ((this.db.pragma('freelist_count', { simple: true }) as number) > VACUUM_FREE_PAGES) {
        this.db.pragma('incremental_vacuum');
      }
      await fsyncPath(`${this.file}-wal`, false);
      this.db.pragma('wal_checkpoint(PASSIVE)');
      await fsyncPath(this.file, false);
    } finally {
      this.writesHeld = null;
      release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.checkpointing?.catch(() => undefined);
    await this.sync();
    // Closing checkpoints and removes the WAL: make the database file hold everything first.
    await this.checkpoint();
    this.closed = true;
    this.db.close();
  }
}

function key(id: string): Buffer {
  return Buffer.from(id, 'hex');
}
