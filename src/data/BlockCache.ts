/**
 * Memory LRU of PLAINTEXT block segments (key "id#k": segment k of block id, see BlockCodec), bounded
 * by bytes. Caching segments rather than whole blocks lets a random 4 KiB read cost one segment of
 * memory and I/O; a whole block read sequentially simply fills all of its segments. Buffers handed
 * out are shared: callers copy from them and never write into them. A Map keeps insertion order, so
 * re-inserting on a hit makes the first key the least recently used.
 */
export const DEFAULT_BLOCK_CACHE_BYTES = 64 * 1024 * 1024;

export class BlockCache {
  private readonly entries = new Map<string, Buffer>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number = DEFAULT_BLOCK_CACHE_BYTES) {}

  /** Looks a segment up, counting a hit or a miss. */
  get(id: string, segment: number): Buffer | undefined {
    const key = keyOf(id, segment);
    const buf = this.entries.get(key);
    if (buf === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, buf);
    return buf;
  }

  /** Looks a segment up without counting a hit or miss nor refreshing its recency (read-ahead). */
  peek(id: string, segment: number): Buffer | undefined {
    return this.entries.get(keyOf(id, segment));
  }

  /** Presence test that neither counts nor refreshes recency. */
  has(id: string, segment: number): boolean {
    return this.entries.has(keyOf(id, segment));
  }

  set(id: string, segment: number, plaintext: Buffer): void {
    if (plaintext.length > this.maxBytes) return;
    const key = keyOf(id, segment);
    this.remove(key);
    this.entries.set(key, plaintext);
    this.used += plaintext.length;
    for (const [oldKey, old] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldKey);
      this.used -= old.length;
    }
  }

  delete(id: string, segment: number): void {
    this.remove(keyOf(id, segment));
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }

  /** Number of cached segments. */
  get count(): number {
    return this.entries.size;
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.used -= old.length;
  }
}

function keyOf(id: string, segment: number): string {
  return `${id}#${segment}`;
}
