/**
 * Delayed write-back of closed files (the embedded volume's delayed allocation, as ext4's): a file
 * closed with buffered data waits here, oldest first, until `delayMs` after its first close, or until
 * the queued bytes pass `maxBytes` (then the oldest go first), and is then handed to `start` (which
 * freezes and uploads it). A file that is deleted before its turn never costs an upload. Anything
 * that flushes a file itself (fsync, buffer pressure, unmount) takes it out with `remove`.
 */
export class WritebackQueue {
  /** ino -> { due, bytes }; Map order is queue order (a file closed again keeps its place). */
  private readonly queued = new Map<number, { due: number; bytes: number }>();
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly delayMs: number,
    private readonly maxBytes: number,
    private readonly maxFiles: number,
    private readonly start: (ino: number) => void,
  ) {}

  /** The file was closed with `bytes` buffered: queue it (or update its bytes if already queued). */
  add(ino: number, bytes: number): void {
    const q = this.queued.get(ino);
    if (q) {
      this.bytes += bytes - q.bytes;
      q.bytes = bytes;
    } else {
      this.queued.set(ino, { due: Date.now() + this.delayMs, bytes });
      this.bytes += bytes;
    }
    while (this.queued.size > 0 && (this.bytes > this.maxBytes || this.queued.size > this.maxFiles)) this.startOldest();
    this.arm();
  }

  /** Take the file out (it is being flushed or dropped by someone else). */
  remove(ino: number): void {
    const q = this.queued.get(ino);
    if (!q) return;
    this.queued.delete(ino);
    this.bytes -= q.bytes;
    if (this.queued.size === 0) this.disarm();
  }

  /** Start every queued file now (unmount, whenIdle). */
  startAll(): void {
    while (this.queued.size > 0) this.startOldest(); // the last remove() disarms the timer
  }

  stop(): void {
    this.disarm();
  }

  private startOldest(): void {
    const [ino] = this.queued.keys();
    this.remove(ino);
    this.start(ino);
  }

  private arm(): void {
    if (this.timer || this.queued.size === 0) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.oldest().due - Date.now()));
    this.timer.unref(); // as the GC timer: whoever owns the data layer closes it (close() uploads everything)
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private fire(): void {
    this.timer = null;
    const now = Date.now();
    while (this.queued.size > 0 && this.oldest().due <= now) this.startOldest();
    this.arm();
  }

  private oldest(): { due: number; bytes: number } {
    const [first] = this.queued.values();
    return first;
  }
}
