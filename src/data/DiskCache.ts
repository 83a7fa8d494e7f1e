/**
 * Optional disk cache of SEALED blocks (never plaintext on disk) under one directory, bounded by
 * bytes with LRU eviction. The index lives in memory and is rebuilt from the directory at open
 * (oldest file mtime first). Writes happen in the background through a small queue. The cache is
 * an optimisation only: any write error (ENOSPC, EACCES, EROFS...) switches it off with ONE warning
 * line, and reads then simply miss; it never fails a file system read or write. Callers must
 * authenticate what get() and getRange() return (codec.open / codec.openSegments) on every use.
 * Only whole sealed blocks are stored; getRange() reads just the segments a partial read needs.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BLOCK_ID_RE } from '../block/BlockStore.js';
import { log } from '../util/log.js';

export const DEFAULT_DISK_CACHE_BYTES = 1024 * 1024 * 1024;
/** Writes waiting beyond this many bytes are dropped rather than queued (the cache is best effort). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/**
 * Throws a clear Error unless `dir` can be created, written, and has at least `minFreeBytes` free
 * (for the mount command to refuse to start with a useless cache folder).
 */
export async function checkCacheDir(dir: string, minFreeBytes: number): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.probe-${process.pid}-${Date.now()}`);
    await fsp.writeFile(probe, 'mosaicfs cache probe');
    await fsp.unlink(probe);
  } catch (err) {
    throw new Error(`cache folder ${dir} cannot be created or written: ${(err as Error).message}`);
  }
  const st = await fsp.statfs(dir);
  const free = st.bavail * st.bsize;
  if (free < minFreeBytes) {
    throw new Error(`cache folder ${dir} has ${free} bytes free, less than the ${minFreeBytes} required`);
  }
}

export interface DiskCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  blocks: number;
  writes: number;
  evictions: number;
  disabled: boolean;
}

export class DiskCache {
  /** id -> stored size; Map order is LRU order (first = least recently used). */
  private readonly index = new Map<string, number>();
  private used = 0;
  private queue: Array<{ id: string; data: Buffer }> = [];
  private queuedBytes = 0;
  private writer: Promise<void> | null = null;
  private disabledReason: string | null = null;
  private counters = { hits: 0, misses: 0, writes: 0, evictions: 0 };

  private constructor(readonly dir: string, readonly maxBytes: number) {}

  static async open(dir: string, maxBytes: number = DEFAULT_DISK_CACHE_BYTES): Promise<DiskCache> {
    const cache = new DiskCache(dir, maxBytes);
    try {
      await fsp.mkdir(dir, { recursive: true });
      await cache.rebuildIndex();
      await cache.evictTo(maxBytes);
    } catch (err) {
      cache.disable(err);
    }
    return cache;
  }

  get disabled(): boolean {
    return this.disabledReason !== null;
  }

  stats(): DiskCacheStats {
    return { ...this.counters, bytes: this.used, blocks: this.index.size, disabled: this.disabled };
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** The sealed bytes of a block, or null on a miss (or any read problem). */
  async get(id: string): Promise<Buffer | null> {
    const size = this.index.get(id);
    if (this.disabled || size === undefined) {
      this.counters.misses++;
      return null;
    }
    try {
      const data = await fsp.readFile(this.fileOf(id));
      this.index.delete(id);
      this.index.set(id, data.length);
      this.counters.hits++;
      return data;
    } catch {
      this.forget(id);
      this.counters.misses++;
      return null;
    }
  }

  /** Bytes [offset, offset + length) of a cached sealed block (clipped at its end), or null on a miss. */
  async getRange(id: string, offset: number, length: number): Promise<Buffer | null> {
    if (this.disabled || !this.index.has(id)) {
      this.counters.misses++;
      return null;
    }
    try {
      const handle = await fsp.open(this.fileOf(id), 'r');
      try {
        const out = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(out, 0, length, offset);
        const size = this.index.get(id);
        if (size !== undefined) {
          this.index.delete(id);
          this.index.set(id, size);
        }
        this.counters.hits++;
        return bytesRead === length ? out : out.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch {
      this.forget(id);
      this.counters.misses++;
      return null;
    }
  }

  /** Queue a sealed block for writing in the background. */
  put(id: string, sealed: Buffer): void {
    if (this.disabled || this.index.has(id) || !BLOCK_ID_RE.test(id)) return;
    if (sealed.length > this.maxBytes || this.queuedBytes + sealed.length > MAX_QUEUED_BYTES) return;
    this.queue.push({ id, data: sealed });
    this.queuedBytes += sealed.length;
    this.writer ??= this.drain().finally(() => {
      this.writer = null;
    });
  }

  /** Remove a block (e.g. it failed authentication). */
  async delete(id: string): Promise<void> {
    this.forget(id);
    await fsp.rm(this.fileOf(id), { force: true }).catch(() => {});
  }

  /** Wait until queued writes are on disk (or dropped). */
  async idle(): Promise<void> {
    while (this.writer) await this.writer;
  }

  async close(): Promise<void> {
    await this.idle();
  }

  private fileOf(id: string): string {
    return path.join(this.dir, id.slice(0, 2), id);
  }

  private forget(id: string): void {
    const size = this.index.get(id);
    if (size === undefined) return;
    this.index.delete(id);
    this.used -= size;
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      this.queuedBytes -= item.data.length;
      if (this.disabled || this.index.has(item.id)) continue;
      try {
        await this.evictTo(this.maxBytes - item.data.length);
        const file = this.fileOf(item.id);
        const tmp = `${file}.${process.pid}.tmp`;
        await fsp.mkdir(path.dirname(file), { recursive: true });
        try {
          await fsp.writeFile(tmp, item.data);
          await fsp.rename(tmp, file);
        } catch (err) {
          await fsp.rm(tmp, { force: true }).catch(() => {});
          throw err;
        }
        this.index.set(item.id, item.data.length);
        this.used += item.data.length;
        this.counters.writes++;
      } catch (err) {
        this.disable(err);
      }
    }
  }

  private async evictTo(limit: number): Promise<void> {
    for (const [id] of this.index) {
      if (this.used <= limit) break;
      this.forget(id);
      this.counters.evictions++;
      await fsp.rm(this.fileOf(id), { force: true });
    }
  }

  private disable(err: unknown): void {
    if (this.disabled) return;
    this.disabledReason = (err as Error)?.message ?? String(err);
    this.queue = [];
    this.queuedBytes = 0;
    log.warn({ dir: this.dir, err: this.disabledReason }, 'disk cache disabled: continuing without it');
  }

  private async rebuildIndex(): Promise<void> {
    const found: Array<{ id: string; size: number; mtimeMs: number }> = [];
    for (const sub of await fsp.readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      const subdir = path.join(this.dir, sub);
      for (const name of await fsp.readdir(subdir)) {
        const file = path.join(subdir, name);
        if (!BLOCK_ID_RE.test(name)) {
          if (name.endsWith('.tmp')) await fsp.rm(file, { force: true }); // left by a crash mid-write
          continue;
        }
        const st = await fsp.stat(file);
        found.push({ id: name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      this.index.set(f.id, f.size);
      this.used += f.size;
    }
  }
}
