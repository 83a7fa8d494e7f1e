/** A FIFO async mutex: run() executes tasks one at a time in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  get busy(): boolean {
    return this.waiting > 0;
  }

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.waiting++;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => { this.waiting--; },
      () => { this.waiting--; },
    );
    return result;
  }
}

/** One Mutex per key, dropped when idle. */
export class KeyedMutex<K> {
  private readonly locks = new Map<K, Mutex>();

  run<T>(key: K, task: () => Promise<T> | T): Promise<T> {
    let m = this.locks.get(key);
    if (!m) {
      m = new Mutex();
      this.locks.set(key, m);
    }
    const lock = m;
    return lock.run(task).finally(() => {
      if (!lock.busy && this.locks.get(key) === lock) this.locks.delete(key);
    });
  }
}
