/**
 * Random reads through the kernel's page cache. The kernel does no read-ahead for random access,
 * so each 4 KiB miss is one READ, while the data layer has to open (and decrypt) the whole 64 KiB
 * segment around it anyway. After a READ is answered, its whole 64 KiB window is pushed into the
 * page cache with FUSE_NOTIFY_STORE,
 * so the next reads in that window never leave the kernel. The READ itself reads the whole window
 * (one pass through the data layer) and is answered with the part it asked for.
 *
 * What keeps a store from planting stale data (fs/fuse/dev.c fuse_notify_store overwrites pages,
 * even up-to-date ones, and grows i_size when a store goes past it):
 * - no store while the inode has a writable handle (write-through pages, mmap'd dirty pages);
 * - a per-inode generation, taken when the READ starts and checked right before the store is
 *   written: opening for writing, WRITE, FALLOCATE, truncation and remote invalidation bump it;
 * - opening for writing and truncation also wait until stores of the inode already handed to the
 *   kernel are done (their pages were read before the change, so they must land before it);
 *   WRITE does not wait: the kernel holds the written pages locked until we answer it;
 * - a store never goes past what the read returned, i.e. the file's size (end of file);
 * - at most NotifyQueue's bound of stores wait (each holds its window's bytes); more are skipped.
 * Stores go through NotifyQueue (one write at a time, on a pool thread) after the reply, so the
 * JS thread never blocks on a page the kernel locked while it waits for one of our replies.
 */

/** Bytes around a READ that are pushed to the page cache: one sealed segment of the block format. */
export const STORE_WINDOW = 64 * 1024;

/** Where stores go (NotifyQueue). */
export interface StoreSink {
  pushStore(ino: number, offset: number, data: Buffer, stillValid: () => boolean): boolean;
  storesSettled(ino: number): Promise<void>;
  hasStores(ino: number): boolean;
}

/** What a READ reads when its window is stored: `length` bytes at `start`, taken at generation `gen`. */
export interface StorePlan {
  start: number;
  length: number;
  gen: number;
}

export class ReadStore {
  private readonly generations = new Map<number, number>();
  private counter = 0;
  private readonly writers = new Map<number, number>();

  constructor(private readonly sink: StoreSink, private readonly window = STORE_WINDOW) {}

  generation(ino: number): number {
    return this.generations.get(ino) ?? 0;
  }

  /** ino's contents change without a wait (WRITE, FALLOCATE, remote invalidation): stores of older reads are dropped. */
  bump(ino: number): void {
    this.generations.set(ino, ++this.counter);
  }

  /** ino's contents are about to change: resolves once no store of older data can still land. */
  changing(ino: number): Promise<void> {
    this.bump(ino);
    return this.sink.storesSettled(ino);
  }

  /** A writable handle is being opened: no stores until releasedWritable(); resolves when none is in flight. */
  openingWritable(ino: number): Promise<void> {
    this.writers.set(ino, (this.writers.get(ino) ?? 0) + 1);
    return this.changing(ino);
  }

  releasedWritable(ino: number): void {
    const n = (this.writers.get(ino) ?? 1) - 1;
    if (n > 0) this.writers.set(ino, n);
    else this.writers.delete(ino);
  }

  /** The kernel dropped the inode: its generation can go once no store of it is pending. */
  forget(ino: number): void {
    if (!this.writers.has(ino) && !this.sink.hasStores(ino)) this.generations.delete(ino);
  }

  /**
   * A READ of `size` bytes at `offset` starts: the aligned window around it to read instead, or null
   * when nothing would be stored (the inode has a writer, or the READ covers its window already).
   */
  plan(ino: number, offset: number, size: number): StorePlan | null {
    if (size === 0 || this.writers.has(ino)) return null;
    const w = this.window;
    const start = Math.floor(offset / w) * w;
    const end = Math.ceil((offset + size) / w) * w;
    if (start === offset && end === offset + size) return null;
    return { start, length: end - start, gen: this.generation(ino) };
  }

  /** The READ planned with `plan` was answered; `data` is what the window read returned (short at end of file). */
  replied(ino: number, plan: StorePlan, data: Buffer): void {
    const stillValid = () => !this.writers.has(ino) && this.generation(ino) === plan.gen;
    if (data.length > 0 && stillValid()) this.sink.pushStore(ino, plan.start, data, stillValid);
  }
}
