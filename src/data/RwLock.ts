/**
 * In-process readers/writer lock. Flushes and compactions hold it shared from the dedup check until
 * their commit; garbage collection holds it exclusive. Readers only wait for an ACTIVE writer, never
 * for a waiting one: a flush holding a shared lock may wait for an earlier flush that still has to
 * acquire its own, and writer preference would deadlock that chain.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly readerWaiters: Array<() => void> = [];
  private readonly writerWaiters: Array<() => void> = [];

  async acquireShared(): Promise<() => void> {
    while (this.writer) await new Promise<void>((resolve) => this.readerWaiters.push(resolve));
    this.readers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.readers--;
      this.wake();
    };
  }

  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.writer || this.readers > 0) await new Promise<void>((resolve) => this.writerWaiters.push(resolve));
    this.writer = true;
    try {
      return await task();
    } finally {
      this.writer = false;
      this.wake();
    }
  }

  async shared<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquireShared();
    try {
      return await task();
    } finally {
      release();
    }
  }

  private wake(): void {
    if (this.writer) return;
    if (this.readerWaiters.length > 0) {
      for (const w of this.readerWaiters.splice(0)) w();
    } else if (this.readers === 0) {
      this.writerWaiters.shift()?.();
    }
  }
}
