/**
 * One shared promise per key while it is pending: concurrent requests for the same thing (a block
 * segment being fetched, a block being uploaded) join the first one instead of starting another.
 * The entry disappears when the promise settles.
 */
export class Inflight<K, V> {
  private readonly pending = new Map<K, Promise<V>>();

  get(key: K): Promise<V> | undefined {
    return this.pending.get(key);
  }

  /** Register `promise` under `key` until it settles; a rejection is marked handled here (callers still get it). */
  track(key: K, promise: Promise<V>): Promise<V> {
    const forget = (): void => {
      if (this.pending.get(key) === promise) this.pending.delete(key);
    };
    promise.then(forget, forget);
    this.pending.set(key, promise);
    return promise;
  }

  /** The pending promise for `key`, or a new one from `start`. */
  run(key: K, start: () => Promise<V>): Promise<V> {
    return this.pending.get(key) ?? this.track(key, start());
  }
}
