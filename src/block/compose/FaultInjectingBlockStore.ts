/**
 * Wraps any BlockStore and injects faults at given rates, drawn from a seeded PRNG so a failing run
 * can be replayed: transient errors (before or after the inner request), delays, truncated or
 * corrupted replies (get/getRange), and hangs. `down = true` makes every request fail at once, as a
 * backend that cannot be reached. Used by tests; not reachable from a volume config.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlockInfo, BlockStore } from '../BlockStore.js';
import { seededRandom } from '../../util/prng.js';

export type FaultOp = 'put' | 'get' | 'getRange' | 'has' | 'delete' | 'list' | 'sync';

export interface FaultOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Share of requests that fail with a transient error (ECONNRESET). */
  errorRate?: number;
  /** Share of requests delayed by delayMs (default 20 ms). */
  delayRate?: number;
  delayMs?: number;
  /** Share of get/getRange replies with one byte flipped. */
  corruptRate?: number;
  /** Share of get/getRange replies cut short (at least one byte missing). */
  truncateRate?: number;
  /** Share of requests that hang for hangMs (default: until close()). */
  hangRate?: number;
  hangMs?: number;
  /** Operations faults apply to (default all). */
  ops?: FaultOp[];
}

/** The error an injected failure throws: transient, like a dropped connection. */
export class InjectedFault extends Error {
  readonly code = 'ECONNRESET';
  readonly transient = true;
  constructor(op: string) {
    super(`injected fault in ${op}`);
    this.name = 'InjectedFault';
  }
}

export interface FaultCounts {
  requests: number;
  errors: number;
  delays: number;
  corruptions: number;
  truncations: number;
  hangs: number;
}

export class FaultInjectingBlockStore implements BlockStore {
  readonly name: string;
  /** Every request fails (a backend that is down). */
  down = false;
  readonly counts: FaultCounts = { requests: 0, errors: 0, delays: 0, corruptions: 0, truncations: 0, hangs: 0 };
  private readonly random: () => number;
  private readonly ops: Set<FaultOp>;
  private closed = false;
  private readonly hangs = new Set<() => void>();

  constructor(
    readonly inner: BlockStore,
    private opts: FaultOptions = {},
    /** Close the inner store on close() (default true). */
    private readonly ownsInner = true,
  ) {
    this.name = `faults(${inner.name})`;
    this.random = seededRandom(opts.seed ?? 1);
    this.ops = new Set(opts.ops ?? ['put', 'get', 'getRange', 'has', 'delete', 'list', 'sync']);
  }

  /** Change the rates (the PRNG sequence continues). */
  configure(opts: Omit<FaultOptions, 'seed'>): void {
    this.opts = { ...this.opts, ...opts };
    if (opts.ops) {
      this.ops.clear();
      for (const op of opts.ops) this.ops.add(op);
    }
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    await this.before('put');
    await this.inner.put(id, data);
    await this.after('put');
  }

  async get(id: string): Promise<Buffer> {
    await this.before('get');
    return this.mangle('get', await this.inner.get(id));
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    await this.before('getRange');
    return this.mangle('getRange', await this.inner.getRange(id, offset, length));
  }

  async has(id: string): Promise<boolean> {
    await this.before('has');
    return this.inner.has(id);
  }

  async delete(id: string): Promise<void> {
    await this.before('delete');
    await this.inner.delete(id);
  }

  async *list(): AsyncIterable<BlockInfo> {
    await this.before('list');
    yield* this.inner.list();
  }

  async sync(): Promise<void> {
    await this.before('sync');
    await this.inner.sync();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.hangs) wake();
    if (this.ownsInner) await this.inner.close();
  }

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }

  private async before(op: FaultOp): Promise<void> {
    this.counts.requests++;
    if (this.down) throw Object.assign(new InjectedFault(op), { message: `backend down (${op})` });
    if (!this.ops.has(op)) return;
    if (this.roll(this.opts.hangRate)) {
      this.counts.hangs++;
      await this.hang();
      throw new InjectedFault(`${op} (hung)`);
    }
    if (this.roll(this.opts.delayRate)) {
      this.counts.delays++;
      await sleep(this.opts.delayMs ?? 20);
    }
    // Half the injected errors happen before the request, half after it reached the backend (a lost reply).
    if (this.roll((this.opts.errorRate ?? 0) / 2)) {
      this.counts.errors++;
      throw new InjectedFault(op);
    }
  }

  private async after(op: FaultOp): Promise<void> {
    if (this.ops.has(op) && this.roll((this.opts.errorRate ?? 0) / 2)) {
      this.counts.errors++;
      throw new InjectedFault(`${op} (reply lost)`);
    }
  }

  private async mangle(op: FaultOp, reply: Buffer): Promise<Buffer> {
    await this.after(op);
    if (!this.ops.has(op) || reply.length === 0) return reply;
    if (this.roll(this.opts.corruptRate)) {
      this.counts.corruptions++;
      const bad = Buffer.from(reply);
      bad[Math.floor(this.random() * bad.length)] ^= 1 << Math.floor(this.random() * 8);
      return bad;
    }
    if (this.roll(this.opts.truncateRate)) {
      this.counts.truncations++;
      return reply.subarray(0, Math.floor(this.random() * reply.length));
    }
    return reply;
  }

  private hang(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.hangs.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = this.opts.hangMs !== undefined ? setTimeout(wake, this.opts.hangMs) : undefined;
      this.hangs.add(wake);
    });
  }
}
