/**
 * Memory LRU of PLAINTEXT blocks, bounded by bytes. Buffers handed out are shared: callers copy
 * from them and never write into them. A Map keeps insertion order, so re-inserting on a hit makes
 * the first key the least recently used.
 */
export const DEFAULT_BLOCK_CACHE_BYTES = 64 * 1024 * 1024;

export class BlockCache {
  private readonly entries = new Map<string, Buffer>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number = DEFAULT_BLOCK_CACHE_BYTES) {}

  /** Looks a block up, counting a hit or a miss. */
  get(id: string): Buffer | undefined {
    const buf = this.entries.get(id);
    if (buf === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(id);
    this.entries.set(id, buf);
    return buf;
  }

  /** Presence test that neither counts nor refreshes recency. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  set(id: string, plaintext: Buffer): void {
    if (plaintext.length > this.maxBytes) return;
    this.delete(id);
    this.entries.set(id, plaintext);
    this.used += plaintext.length;
    for (const [oldId, old] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldId);
      this.used -= old.length;
    }
  }

  delete(id: string): void {
    const old = this.entries.get(id);
    if (old === undefined) return;
    this.entries.delete(id);
    this.used -= old.length;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }

  get count(): number {
    return this.entries.size;
  }
}
