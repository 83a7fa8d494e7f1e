/**
 * Two tiers: blocks are written to `fast` (e.g. a local folder) and copied to `slow` (S3, Discord,
 * peers) in the background; reads try fast first, then slow.
 *
 * - put: stored in fast (put returns as soon as fast has it), then queued for the slow tier. The
 *   queue is bounded (`queueLimit` ids): when it is full, put waits (back-pressure) — the fast
 *   tier, not memory, is what holds the backlog while the slow tier is down.
 * - Movers (`concurrency`) copy queued blocks fast -> slow; a failure is retried with backoff (the
 *   block stays in fast meanwhile). With keepFast = false the fast copy is deleted once the slow
 *   tier has it and has synced it.
 * - Restart: open() scans the fast tier in the background and queues every block the slow tier
 *   lacks (keepFast) or every block there (keepFast = false), so nothing stays only local.
 * - get/getRange/getRangeChecked: fast, else (missing or corrupt there) slow. A whole-block get
 *   answered by slow re-populates fast when `promote` (default = keepFast).
 * - has: either tier. delete: both tiers (and a move in flight is undone). list: union.
 * - sync: fast only (a put is durable once fast has it; moving on is the tier's own business).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockNotFoundError, IntegrityError } from '../../errors.js';
import { log } from '../../util/log.js';
import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../BlockStore.js';
import { type CheckedReadStore, type OpenReply, readChecked } from './checkedRead.js';

export interface TieredOptions {
  /** Keep blocks in fast after they reached slow (a cache), default true. */
  keepFast?: boolean;
  /** Re-populate fast from slow on a whole-block read (default keepFast). */
  promote?: boolean;
  /** Ids queued for the slow tier at most (plus one per mover being retried); put waits beyond (default 4096). */
  queueLimit?: number;
  /** Blocks moved at once (default 4). */
  concurrency?: number;
  /** First retry delay after a failed move, doubling to 30 s (default 200 ms). */
  retryDelayMs?: number;
  /** Close both tiers on close() (default true). */
  ownsTiers?: boolean;
}

export interface TieredStats {
  queued: number;
  moving: number;
  moved: number;
  moveFailures: number;
  slowReads: number;
}

export class TieredBlockStore implements CheckedReadStore {
  readonly name: string;
  private readonly keepFast: boolean;
  private readonly promote: boolean;
  private readonly queueLimit: number;
  private readonly retryDelayMs: number;
  /** Ids waiting for the slow tier, in order (a Set keeps insertion order). */
  private readonly queue = new Set<string>();
  /** The copy to the slow tier of each id being moved (delete waits for it). */
  private readonly movingTasks = new Map<string, Promise<void>>();
  private readonly moving = new Set<string>();
  private readonly deletedWhileMoving = new Set<string>();
  private readonly spaceWaiters: Array<() => void> = [];
  private readonly workWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private readonly workers: Promise<void>[] = [];
  private readonly closing = new AbortController();
  private readonly promoting = new Map<string, Promise<void>>();
  private scan: Promise<void> = Promise.resolve();
  private closed = false;
  private failStreak = 0;
  private moved = 0;
  private moveFailures = 0;
  private slowReads = 0;

  private constructor(readonly fast: BlockStore, readonly slow: BlockStore, private readonly opts: TieredOptions) {
    this.keepFast = opts.keepFast ?? true;
    this.promote = opts.promote ?? this.keepFast;
    this.queueLimit = Math.max(1, opts.queueLimit ?? 4096);
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.name = `tiered(${fast.name} -> ${slow.name})`;
  }

  /** Start the movers and the restart scan (which runs in the background). */
  static open(fast: BlockStore, slow: BlockStore, opts: TieredOptions = {}): TieredBlockStore {
    const store = new TieredBlockStore(fast, slow, opts);
    for (let i = 0; i < Math.max(1, opts.concurrency ?? 4); i++) store.workers.push(store.mover());
    store.scan = store.queueUnmoved().catch((err) => log.warn({ store: store.name, err: (err as Error).message }, 'tiered store: restart scan failed; blocks only in the fast tier move on the next open'));
    return store;
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    await this.fast.put(id, data);
    await this.enqueue(id);
  }

  async get(id: string): Promise<Buffer> {
    assertBlockId(id);
    try {
      return await this.fast.get(id);
    } catch (err) {
      if (!(err instanceof BlockNotFoundError)) throw err;
    }
    const data = await this.slow.get(id);
    this.slowReads++;
    if (this.promote) this.promoteCopy(id, data);
    return data;
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertBlockId(id);
    assertByteRange(offset, length);
    try {
      return await this.fast.getRange(id, offset, length);
    } catch (err) {
      if (!(err instanceof BlockNotFoundError)) throw err;
    }
    const data = await this.slow.getRange(id, offset, length);
    this.slowReads++;
    return data;
  }

  async getRangeChecked<T>(id: string, offset: number, length: number, open: OpenReply<T>): Promise<T> {
    assertBlockId(id);
    assertByteRange(offset, length);
    try {
      return await readChecked(this.fast, id, offset, length, open);
    } catch (err) {
      if (!(err instanceof BlockNotFoundError || err instanceof IntegrityError)) throw err;
      if (err instanceof IntegrityError) log.warn({ blockId: id, store: this.fast.name }, 'fast tier copy is corrupt; reading the slow tier');
    }
    const result = await readChecked(this.slow, id, offset, length, open);
    this.slowReads++;
    return result;
  }

  async has(id: string): Promise<boolean> {
    assertBlockId(id);
    return (await this.fast.has(id)) || (await this.slow.has(id));
  }

  async delete(id: string): Promise<void> {
    assertBlockId(id);
    if (this.queue.delete(id)) this.wakeSpace();
    if (this.moving.has(id)) this.deletedWhileMoving.add(id);
    // A copy to the slow tier in flight could land after our delete there: wait for it first.
    await this.movingTasks.get(id);
    await this.promoting.get(id);
    await Promise.all([this.fast.delete(id), this.slow.delete(id)]);
  }

  async *list(): AsyncIterable<BlockInfo> {
    const seen = new Set<string>();
    for (const tier of [this.fast, this.slow]) {
      for await (const info of tier.list()) {
        if (seen.has(info.id)) continue;
        seen.add(info.id);
        yield info;
      }
    }
  }

  sync(): Promise<void> {
    return this.fast.sync();
  }

  /** Resolves once every queued block has reached the slow tier (or close() was called). */
  async drain(): Promise<void> {
    await this.scan;
    while (!this.closed && (this.queue.size > 0 || this.moving.size > 0)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** Stop moving (blocks not yet moved stay in fast and move after the next open), close the tiers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    for (const wake of [...this.workWaiters.splice(0), ...this.spaceWaiters.splice(0), ...this.idleWaiters.splice(0)]) wake();
    await Promise.allSettled([this.scan, ...this.workers, ...this.promoting.values()]);
    if (this.opts.ownsTiers ?? true) await Promise.all([this.fast.close(), this.slow.close()]);
  }

  stats(): TieredStats {
    return { queued: this.queue.size, moving: this.moving.size, moved: this.moved, moveFailures: this.moveFailures, slowReads: this.slowReads };
  }

  private async enqueue(id: string): Promise<void> {
    while (!this.closed && this.queue.size >= this.queueLimit && !this.queue.has(id)) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.closed) return; // it stays in fast; the next open moves it
    this.queue.add(id);
    this.workWaiters.shift()?.();
  }

  private async queueUnmoved(): Promise<void> {
    for await (const info of this.fast.list()) {
      if (this.closed) return;
      if (this.queue.has(info.id) || this.moving.has(info.id)) continue;
      if (this.keepFast && (await this.slow.has(info.id))) continue;
      await this.enqueue(info.id);
    }
  }

  private async mover(): Promise<void> {
    while (!this.closed) {
      const id = this.queue.values().next().value as string | undefined;
      if (id === undefined) {
        if (this.moving.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        await new Promise<void>((resolve) => this.workWaiters.push(resolve));
        continue;
      }
      this.queue.delete(id);
      this.wakeSpace();
      this.moving.add(id);
      const task = this.moveOne(id);
      this.movingTasks.set(id, task.then(() => undefined, () => undefined));
      try {
        await task;
        this.failStreak = 0;
        this.moved++;
      } catch (err) {
        this.moveFailures++;
        this.failStreak++;
        log.warn({ blockId: id, store: this.slow.name, err: (err as Error).message }, 'tiered store: moving a block to the slow tier failed; will retry');
        if (!this.deletedWhileMoving.has(id)) this.queue.add(id);
        const delay = Math.min(30_000, this.retryDelayMs * 2 ** Math.min(this.failStreak - 1, 10));
        try {
          await sleep(delay, undefined, { signal: this.closing.signal });
        } catch {
          // closing
        }
      } finally {
        this.moving.delete(id);
        this.movingTasks.delete(id);
        this.deletedWhileMoving.delete(id);
        if (this.queue.size === 0 && this.moving.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }

  private async moveOne(id: string): Promise<void> {
    let data: Buffer;
    try {
      data = await this.fast.get(id);
    } catch (err) {
      if (err instanceof BlockNotFoundError) return; // deleted meanwhile
      throw err;
    }
    await this.slow.put(id, data);
    if (this.deletedWhileMoving.has(id)) {
      await this.slow.delete(id);
      return;
    }
    if (!this.keepFast) {
      await this.slow.sync();
      if (!this.deletedWhileMoving.has(id)) await this.fast.delete(id);
    }
  }

  private promoteCopy(id: string, data: Buffer): void {
    if (this.closed || this.promoting.has(id) || this.promoting.size >= 16) return;
    const task = this.fast
      .put(id, data)
      .catch((err) => log.debug({ blockId: id, err: (err as Error).message }, 'tiered store: re-populating the fast tier failed'))
      .finally(() => this.promoting.delete(id));
    this.promoting.set(id, task);
  }

  private wakeSpace(): void {
    this.spaceWaiters.shift()?.();
  }
}
