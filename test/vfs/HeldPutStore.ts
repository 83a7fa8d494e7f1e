/** A BlockStore wrapper whose puts can be held until the test lets them go on (or fail). */
import type { BlockStore } from '../../src/block/BlockStore.js';
import { ForwardingBlockStore } from '../helpers/ForwardingBlockStore.js';

interface HeldPut {
  go(): void;
  fail(err: Error): void;
}

export class HeldPutStore extends ForwardingBlockStore {
  /** While true, new puts wait in `held` until release() or fail(). */
  holding = false;
  puts = 0;
  private held: HeldPut[] = [];
  private arrivals: Array<() => void> = [];

  constructor(inner: BlockStore) {
    super(inner, 'held');
  }

  get waiting(): number {
    return this.held.length;
  }

  /** Resolves once at least `n` puts are held. */
  async heldPuts(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }

  /** Stop holding and let every held put go on to the inner store. */
  release(): void {
    this.holding = false;
    for (const p of this.held.splice(0)) p.go();
  }

  /** Stop holding and fail every held put with `err`. */
  fail(err: Error): void {
    this.holding = false;
    for (const p of this.held.splice(0)) p.fail(err);
  }

  override put(id: string, data: Uint8Array): Promise<void> {
    this.puts++;
    if (!this.holding) return this.inner.put(id, data);
    return new Promise<void>((resolve, reject) => {
      this.held.push({ go: () => this.inner.put(id, data).then(resolve, reject), fail: reject });
      for (const wake of this.arrivals.splice(0)) wake();
    });
  }
}

/** 'pending' if `p` has not settled after a few turns of the event loop (used where only a held put could settle it). */
export async function stateOf(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  p.then(() => { state = 'resolved'; }, () => { state = 'rejected'; });
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  return state;
}
