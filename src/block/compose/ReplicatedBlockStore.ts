/**
 * Each block on several backends (replicas).
 *
 * put: sent to every replica at once; returns when `writeQuorum` (default all) copies are stored.
 * Copies still missing then keep being retried in the background (a few times, with backoff); a copy
 * that never lands is logged and counted in stats().missingCopies. Fewer than writeQuorum copies:
 * put fails with the replicas' errors.
 * Reads (get/getRange/getRangeChecked): start with the replica with the best recent latency; if it
 * has not answered after a hedge delay (3x its recent latency, 20..1000 ms, or `hedgeDelayMs`), ask
 * the next one too; an error, a missing block, or a reply the caller's check rejects (IntegrityError)
 * moves on to the next replica at once. The first good reply wins. All failed: IntegrityError if any
 * reply was corrupt, BlockNotFoundError if every replica lacks the block, else the last error.
 * has: true if any replica has it. delete: on all (fails if any fails; it is idempotent, so the
 * caller retries). list: union of all replicas. sync: succeeds when at least writeQuorum replicas
 * synced (a replica that is down does not fail an fsync the quorum covers).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockNotFoundError, FsError, IntegrityError } from '../../errors.js';
import { log } from '../../util/log.js';
import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../BlockStore.js';
import { type CheckedReadStore, type OpenReply, readChecked } from './checkedRead.js';
import { LatencyTracker } from './latency.js';

export interface ReplicatedOptions {
  /** Copies that must be stored before put() returns (1..replicas, default all). */
  writeQuorum?: number;
  /** Fixed hedge delay in ms (default adaptive). */
  hedgeDelayMs?: number;
  /** Background attempts for a copy that missed the quorum (default 5). */
  backgroundAttempts?: number;
  /** Close the replicas on close() (default true). */
  ownsReplicas?: boolean;
}

export interface ReplicatedStats {
  /** Copies being written in the background after put() returned. */
  pendingCopies: number;
  /** Copies that failed every background attempt (block id -> replica names). */
  missingCopies: number;
  /** Reads answered by a replica other than the first one asked. */
  fallbacks: number;
  /** Replies rejected by the caller's check (corrupt copies). */
  corruptReplies: number;
}

export class ReplicatedBlockStore implements CheckedReadStore {
  readonly name: string;
  readonly writeQuorum: number;
  private readonly latency: LatencyTracker;
  private readonly background = new Set<Promise<void>>();
  private readonly missing = new Map<string, Set<string>>();
  private closed = false;
  private readonly closing = new AbortController();
  private fallbacks = 0;
  private corruptReplies = 0;

  constructor(readonly replicas: BlockStore[], private readonly opts: ReplicatedOptions = {}) {
    if (replicas.length === 0) throw new RangeError('a replicated store needs at least one replica');
    const q = opts.writeQuorum ?? replicas.length;
    if (!Number.isInteger(q) || q < 1 || q > replicas.length) {
      throw new RangeError(`writeQuorum must be between 1 and ${replicas.length}, got ${q}`);
    }
    this.writeQuorum = q;
    this.latency = new LatencyTracker(replicas.length);
    this.name = `replicate(${replicas.map((r) => r.name).join(', ')})`;
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    // Background copies may outlive this call, and the caller may reuse its buffer once we return.
    const bytes = this.writeQuorum < this.replicas.length ? Buffer.from(data) : data;
    await new Promise<void>((resolve, reject) => {
      let ok = 0;
      let failed = 0;
      let settled = false;
      const errors: string[] = [];
      const missedBeforeQuorum: number[] = [];
      this.replicas.forEach((replica, i) => {
        const t0 = performance.now();
        replica.put(id, bytes).then(
          () => {
            this.latency.note(i, performance.now() - t0);
            ok++;
            if (!settled && ok >= this.writeQuorum) {
              settled = true;
              for (const j of missedBeforeQuorum) this.retryCopy(id, bytes, j);
              resolve();
            }
          },
          (err: unknown) => {
            this.latency.penalize(i, performance.now() - t0);
            failed++;
            errors.push(`${replica.name}: ${(err as Error).message}`);
            if (settled) this.retryCopy(id, bytes, i);
            else if (failed > this.replicas.length - this.writeQuorum) {
              settled = true;
              const e = new FsError('EIO', `block ${id} stored on ${ok} of ${this.writeQuorum} required replicas: ${errors.join('; ')}`);
              (e as { cause?: unknown }).cause = err;
              reject(e);
            } else missedBeforeQuorum.push(i);
          },
        );
      });
    });
  }

  async get(id: string): Promise<Buffer> {
    assertBlockId(id);
    return this.race(id, (r) => r.get(id));
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertBlockId(id);
    assertByteRange(offset, length);
    return this.race(id, (r) => r.getRange(id, offset, length));
  }

  async getRangeChecked<T>(id: string, offset: number, length: number, open: OpenReply<T>): Promise<T> {
    assertBlockId(id);
    assertByteRange(offset, length);
    return this.race(id, (r) => readChecked(r, id, offset, length, open));
  }

  async has(id: string): Promise<boolean> {
    assertBlockId(id);
    const results = await Promise.allSettled(this.replicas.map((r) => r.has(id)));
    if (results.some((r) => r.status === 'fulfilled' && r.value)) return true;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return false;
  }

  async delete(id: string): Promise<void> {
    assertBlockId(id);
    this.missing.delete(id);
    const results = await Promise.allSettled(this.replicas.map((r) => r.delete(id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async *list(): AsyncIterable<BlockInfo> {
    const seen = new Set<string>();
    for (const replica of this.replicas) {
      for await (const info of replica.list()) {
        if (seen.has(info.id)) continue;
        seen.add(info.id);
        yield info;
      }
    }
  }

  async sync(): Promise<void> {
    const results = await Promise.allSettled(this.replicas.map((r) => r.sync()));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    if (ok >= this.writeQuorum) return;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw failed?.reason ?? new FsError('EIO', 'sync failed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await Promise.allSettled([...this.background]);
    if (this.opts.ownsReplicas ?? true) await Promise.all(this.replicas.map((r) => r.close()));
  }

  /** Wait until background copies have landed or given up. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  stats(): ReplicatedStats {
    return {
      pendingCopies: this.background.size,
      missingCopies: [...this.missing.values()].reduce((n, s) => n + s.size, 0),
      fallbacks: this.fallbacks,
      corruptReplies: this.corruptReplies,
    };
  }

  private retryCopy(id: string, data: Uint8Array, i: number): void {
    this.track(this.copyInBackground(id, data, i));
  }

  private async copyInBackground(id: string, data: Uint8Array, i: number): Promise<void> {
    const replica = this.replicas[i];
    const attempts = this.opts.backgroundAttempts ?? 5;
    let delay = 100;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      try {
        await sleep(delay, undefined, { signal: this.closing.signal });
      } catch {
        break; // closing: the copy stays missing
      }
      delay *= 2;
      try {
        await replica.put(id, data);
        this.missing.get(id)?.delete(replica.name);
        return;
      } catch (err) {
        if (attempt === attempts) log.warn({ blockId: id, replica: replica.name, err: (err as Error).message }, 'replica copy failed; block has fewer copies than configured');
      }
    }
    let names = this.missing.get(id);
    if (!names) this.missing.set(id, (names = new Set()));
    names.add(replica.name);
  }

  private track(task: Promise<void>): void {
    const t = task.catch(() => {});
    this.background.add(t);
    void t.then(() => this.background.delete(t));
  }

  private hedgeDelay(i: number): number {
    if (this.opts.hedgeDelayMs !== undefined) return this.opts.hedgeDelayMs;
    const recent = this.latency.of(i);
    return recent === 0 ? 100 : Math.min(1000, Math.max(20, 3 * recent));
  }

  /** Ask replicas in latency order, hedging after a delay and moving on at once on failure. */
  private race<T>(id: string, attempt: (replica: BlockStore) => Promise<T>): Promise<T> {
    const order = this.latency.order();
    return new Promise<T>((resolve, reject) => {
      let next = 0;
      let running = 0;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const errors: unknown[] = [];
      const finish = (): void => {
        done = true;
        clearTimeout(timer);
      };
      const launch = (): void => {
        if (done || next >= order.length) return;
        const first = next === 0;
        const i = order[next++];
        running++;
        clearTimeout(timer);
        if (next < order.length) timer = setTimeout(launch, this.hedgeDelay(i));
        const t0 = performance.now();
        attempt(this.replicas[i]).then(
          (value) => {
            running--;
            this.latency.note(i, performance.now() - t0);
            if (done) return;
            finish();
            if (!first) this.fallbacks++;
            resolve(value);
          },
          (err: unknown) => {
            running--;
            if (err instanceof IntegrityError) {
              this.corruptReplies++;
              log.warn({ blockId: id, replica: this.replicas[i].name }, 'replica returned a corrupt copy; trying another');
            }
            if (err instanceof BlockNotFoundError) this.latency.note(i, performance.now() - t0);
            else this.latency.penalize(i, performance.now() - t0);
            errors.push(err);
            if (done) return;
            if (next < order.length) launch();
            else if (running === 0) {
              finish();
              reject(combineReadErrors(id, errors));
            }
          },
        );
      };
      launch();
    });
  }
}

function combineReadErrors(id: string, errors: unknown[]): unknown {
  const corrupt = errors.find((e) => e instanceof IntegrityError);
  if (corrupt) return corrupt;
  if (errors.every((e) => e instanceof BlockNotFoundError)) return new BlockNotFoundError(id);
  return errors.find((e) => !(e instanceof BlockNotFoundError)) ?? errors[errors.length - 1];
}
