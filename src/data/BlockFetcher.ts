/**
 * Gets plaintext out of blocks at SEGMENT granularity (see BlockCodec): a read of bytes [x, y) of a
 * block needs only the segments covering them. Lookup order per segment: memory LRU, a fetch already
 * in flight, then one request for each run of missing segments: the disk cache of sealed blocks (a
 * positioned read of the run), else the block store (one getRange). The block's plaintext length,
 * which the segment layout and the AAD need, comes from the MetaStore's block record (cached: ids
 * are content addresses, so an id's length never changes). The nonce prefix derives from the id, so
 * no header fetch is needed: a cache miss is ONE request.
 *
 * Concurrent requests for a segment share one fetch and one decryption. Read-ahead (prefetch) brings
 * whole blocks in with one request per block; a whole block fetched from the store is also written to
 * the disk cache. A run failing authentication is logged with the block id and the inode that
 * wanted it, never cached, and the IntegrityError (EIO) is thrown; a bad disk-cache copy is deleted
 * and the block store is asked instead. A store holding several copies (replicate, tiered) is asked
 * through readChecked(), so a corrupt copy is replaced by another copy before anything is reported;
 * transient store failures are retried with backoff (10 s, MOSAICFS_READ_RETRY_MS) before EIO.
 */
import type { BlockStore } from '../block/BlockStore.js';
import { readChecked } from '../block/compose/checkedRead.js';
import { type RetryPolicy, policyFromEnv, retryTransient } from '../block/compose/retry.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import { BlockNotFoundError, FsError, IntegrityError } from '../errors.js';
import type { MetaStore } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import type { BlockCache } from './BlockCache.js';
import type { DiskCache } from './DiskCache.js';
import { Inflight } from './Inflight.js';

/** Block lengths remembered (an entry is ~100 bytes). */
const MAX_KNOWN_SIZES = 65536;

/**
 * Transient store failures (a dropped connection, a 503) are retried for this long before a read
 * fails with EIO; MOSAICFS_READ_RETRY_MS overrides the deadline.
 */
const READ_RETRY: RetryPolicy = policyFromEnv('MOSAICFS_READ_RETRY_MS', { deadlineMs: 10_000, baseDelayMs: 20, maxDelayMs: 1000 });

export class BlockFetcher {
  private readonly inflight = new Inflight<string, Buffer>();
  private readonly sizes = new Map<string, number>();
  /** Sealed bytes received from the block store. */
  bytesDownloaded = 0;
  /** Requests made to the block store (each one block or one run of its segments). */
  blocksDownloaded = 0;
  /** Segments received from the block store. */
  segmentsDownloaded = 0;

  constructor(
    private readonly blocks: BlockStore,
    private readonly codec: BlockCodec,
    readonly cache: BlockCache,
    private readonly meta: Pick<MetaStore, 'getBlock'>,
    private readonly diskCache?: DiskCache,
  ) {}

  /**
   * Copy plaintext bytes [from, to) of block `id` into `out` at `at`. `ino` is only for the error
   * log. EIO if the block is shorter than `to` (a slice pointing past its block's end).
   */
  async read(id: string, ino: number, from: number, to: number, out: Buffer, at: number): Promise<void> {
    if (to <= from) return;
    const size = await this.sizeOf(id);
    if (to > size) {
      log.error({ ino, blockId: id, blockSize: size, need: to }, 'slice points past the end of its block');
      throw new FsError('EIO', `block ${id} is shorter than a slice of inode ${ino} needs`);
    }
    const S = this.codec.segmentSize;
    const first = Math.floor(from / S);
    const segments = await this.segments(id, ino, size, first, Math.floor((to - 1) / S), true);
    for (let i = 0; i < segments.length; i++) {
      const base = (first + i) * S;
      const a = Math.max(from, base) - base;
      const b = Math.min(to, base + segments[i].length) - base;
      at += segments[i].copy(out, at, a, b);
    }
  }

  /** Bring a whole block into the memory cache (one request for its missing segments), counting no hit or miss. */
  async prefetch(id: string, ino: number): Promise<void> {
    const size = await this.sizeOf(id);
    await this.segments(id, ino, size, 0, this.codec.segmentCount(size) - 1, false);
  }

  private async sizeOf(id: string): Promise<number> {
    const known = this.sizes.get(id);
    if (known !== undefined) return known;
    const record = await this.meta.getBlock(id);
    // Forgotten by GC after the caller's snapshot: the same as a block gone from the store.
    if (!record) throw new BlockNotFoundError(id);
    if (this.sizes.size >= MAX_KNOWN_SIZES) this.sizes.delete(this.sizes.keys().next().value as string);
    this.sizes.set(id, record.size);
    return record.size;
  }

  /** Segments [first, last] of a block: cached ones, shared in-flight ones, and one fetch per run of missing ones. */
  private segments(id: string, ino: number, size: number, first: number, last: number, count: boolean): Promise<Buffer[]> {
    const parts: Array<Buffer | Promise<Buffer>> = [];
    let runStart = -1;
    for (let k = first; k <= last + 1; k++) {
      const have = k > last ? undefined : this.lookup(id, k, count);
      if (have === undefined && k <= last) {
        if (runStart < 0) runStart = k;
        continue;
      }
      if (runStart >= 0) {
        parts.push(...this.fetchRun(id, ino, size, runStart, k - 1));
        runStart = -1;
      }
      if (have !== undefined) parts.push(have);
    }
    return Promise.all(parts);
  }

  private lookup(id: string, k: number, count: boolean): Buffer | Promise<Buffer> | undefined {
    const cached = count ? this.cache.get(id, k) : this.cache.peek(id, k);
    return cached ?? this.inflight.get(`${id}#${k}`);
  }

  /** Start fetching segments [first, last] as one request; registers one shared promise per segment. */
  private fetchRun(id: string, ino: number, size: number, first: number, last: number): Promise<Buffer>[] {
    const run = this.loadRun(id, ino, size, first, last);
    const out: Promise<Buffer>[] = [];
    for (let k = first; k <= last; k++) {
      out.push(this.inflight.track(`${id}#${k}`, run.then((segs) => segs[k - first])));
    }
    return out;
  }

  private async loadRun(id: string, ino: number, size: number, first: number, last: number): Promise<Buffer[]> {
    const { offset, length } = this.codec.segmentRange(size, first, last);
    const fromDisk = this.diskCache?.has(id) ? await this.diskCache.getRange(id, offset, length) : null;
    if (fromDisk) {
      try {
        return this.keep(id, first, this.codec.openSegments(id, size, first, fromDisk));
      } catch (err) {
        log.warn({ blockId: id, ino, err: (err as Error).message }, 'disk cache copy of block failed authentication; refetching');
        await this.diskCache?.delete(id);
      }
    }
    // The store hands each reply to `open`; a store with several copies (replicate, tiered) tries
    // another copy when a reply fails authentication (see block/compose/checkedRead.ts).
    let sealed!: Buffer;
    let plain: Buffer[];
    try {
      plain = await retryTransient(`read of block ${id}`, READ_RETRY, () =>
        readChecked(this.blocks, id, offset, length, (reply) => {
          this.bytesDownloaded += reply.length;
          this.blocksDownloaded++;
          this.segmentsDownloaded += last - first + 1;
          try {
            const segments = this.codec.openSegments(id, size, first, reply);
            sealed = reply;
            return segments;
          } catch (err) {
            throw err instanceof IntegrityError ? err : new IntegrityError(id, (err as Error).message);
          }
        }),
      );
    } catch (err) {
      if (err instanceof IntegrityError) log.error({ blockId: id, ino, segments: [first, last], err: err.message }, 'block failed integrity check');
      throw err;
    }
    if (first === 0 && last === this.codec.segmentCount(size) - 1) this.diskCache?.put(id, sealed);
    return this.keep(id, first, plain);
  }

  private keep(id: string, first: number, segments: Buffer[]): Buffer[] {
    segments.forEach((seg, i) => this.cache.set(id, first + i, seg));
    return segments;
  }
}
