/**
 * ChunkedFileData: the data layer for file contents (see FileData.ts for the contract).
 *
 * Layout. A file is cut into chunks of `chunkSize` bytes (the volume block size, default 4 MiB);
 * chunk i covers file bytes [i*chunkSize, (i+1)*chunkSize). Each chunk has an ordered list of slices
 * in the MetaStore; a slice maps a run of the chunk to a run of a block's plaintext, later slices
 * win where they overlap, and uncovered bytes are holes that read as zeros (holes are never stored).
 *
 * Write buffer (WriteBuffer.ts). Writes go to memory: per inode, per chunk, sorted non-overlapping
 * dirty extents (adjacent/overlapping writes merge, later data wins). A global bound
 * (`writeBufferBytes`, default 64 MiB) is enforced by reservation: write() waits while the buffer
 * (plus space reserved by writes in progress) would exceed it, flushing the file holding the most
 * bytes meanwhile, so the buffer never holds more than the bound plus one write; a failing flush
 * fails the waiting write (never a silent loss). A chunk that becomes completely dirty is frozen at
 * once into a "layer" and uploaded in the background, so sequential writes stream (at most
 * `uploadConcurrency` uploads in flight, default 4).
 *
 * Flush of a chunk. All its dirty extents are packed into ONE block (concatenated plaintext), sealed
 * (id = keyed hash of the plaintext), and put unless it is big (>= 256 KiB) and the MetaStore
 * already records that id with refs > 0 (dedup; small blocks are put without asking). Then commitSlices() adds one slice per extent (blockOff into the packed block),
 * size = max(size, end of the furthest dirty byte), mtime = the last buffered write. A sequentially
 * written chunk is therefore exactly one block whose id depends only on its bytes (identical files
 * dedup); a small random write costs one small block and one slice row, never a chunk rewrite.
 * Layers of one inode upload in parallel but commit strictly in order (a per-inode "pump"), so a
 * newer write can never be overridden by an older one. A failed upload or commit leaves the layer
 * (still visible to reads) at the head of the queue; the next flush retries it and reports the error.
 *
 * Close. By default close (flushOnClose) waits until everything is committed: remote mounts promise
 * close-to-open consistency to other clients. With `closeWaitsForUpload: false` (the embedded
 * volume: ext4's delayed allocation) close freezes the file's buffered data, starts its upload
 * and returns; the upload then runs in the background like a full chunk's does (bounded by the
 * upload slots and the write buffer's bound). Everything else sees the buffered data until it is
 * committed (reads, pending() for getattr, later writes and truncates); fsync and flush wait for
 * it. A background failure is logged, remembered per inode and reported (once) by the next
 * flush/fsync/close of that inode (as the kernel's errseq does); the data stays buffered and the
 * next flush retries it.
 *
 * Attribute changes (setattr) do not wait for buffered data: they run under the inode lock and
 * stamp the buffered layers with the explicitly set mtime and the ctime they left, so the later
 * commit keeps them: commitSlices writes the layer's mtime and ctime in one transaction.
 *
 * Compaction (background, under the inode lock, never changes what a read returns). After each
 * commit the chunk's slices are checked: slices entirely hidden by newer ones are dropped with
 * replaceChunk() (metadata only). If more than `maxSlicesPerChunk` (default 16) remain, the chunk's
 * visible bytes are read and written as one block (one slice per contiguous visible run, or a single
 * zero-filled slice if even the runs are too many), again with replaceChunk(expectedCount).
 *
 * Read path. read() clips to the given size, takes a consistent snapshot under the inode lock (the
 * slice lists of the touched chunks, cached in memory and invalidated by every change made here, and
 * the buffered bytes overlapping the range), then outside the lock resolves slices newest-first into
 * visible pieces, fetches only the block SEGMENTS needed (64 KiB units sealed independently, see
 * AesGcmBlockCodec; via BlockFetcher: memory LRU of segments, disk cache of sealed blocks, block
 * store, one range request per run of missing segments; concurrent fetches of a segment share one
 * request), copies, leaves holes zero, and overlays buffered bytes (read-your-writes). Sequential
 * reads prefetch whole blocks in the background: the rest of the current chunk and the next
 * `readAheadChunks` chunks (default 2).
 *
 * Integrity. A block failing authentication is logged (block id, inode) and the read fails with the
 * IntegrityError (EIO); bad blocks are never cached, wrong bytes are never returned.
 *
 * GC. collectGarbage() deletes blocks whose refs have been 0 for `graceMs` under an in-process
 * readers/writer lock held exclusive; uploads hold it shared from their dedup check to their commit,
 * so a block about to gain a reference is never deleted. drop() (after a purge) schedules a
 * debounced background GC so space is freed soon after rm.
 *
 * Concurrency. Every state change of one inode runs under a KeyedMutex; uploads, block fetches and
 * read-ahead run outside it, so a slow upload does not block reads, and inodes are independent.
 */
import type { BlockStore } from '../block/BlockStore.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import { BlockNotFoundError, isFsError } from '../errors.js';
import type { InodeAttr, MetaStore, Slice, Timespec } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import { KeyedMutex } from '../util/mutex.js';
import type { BlockCache } from './BlockCache.js';
import { BlockFetcher } from './BlockFetcher.js';
import { BlockUploader, type UploadLease } from './BlockUploader.js';
import type { DiskCache, DiskCacheStats } from './DiskCache.js';
import type { FileData, PendingState } from './FileData.js';
import { collectGarbage } from './garbageCollector.js';
import { RwLock } from './RwLock.js';
import { Semaphore } from './Semaphore.js';
import { SliceCache } from './SliceCache.js';
import { type Piece, resolveSlices, visibleSliceIndexes } from './slices.js';
import { DEFAULT_WRITE_BUFFER_BYTES, type FileBuffer, type Layer, WriteBuffer, packLayer } from './WriteBuffer.js';
import { WritebackQueue } from './WritebackQueue.js';

export interface ChunkedFileDataOptions {
  meta: MetaStore;
  blocks: BlockStore;
  codec: BlockCodec;
  /** Chunk size in bytes (the volume block size). */
  chunkSize: number;
  cache: BlockCache;
  diskCache?: DiskCache;
  /** Bound of the write buffer in bytes (default 64 MiB). */
  writeBufferBytes?: number;
  /** Block uploads in flight at once (default 4). */
  uploadConcurrency?: number;
  /** Chunks prefetched ahead of a sequential reader (default 2; 0 disables read-ahead). */
  readAheadChunks?: number;
  /** Slices a chunk may have before it is rewritten as one block (default 16). */
  maxSlicesPerChunk?: number;
  /** Grace period of the background GC after purges, in ms (default 0). */
  gcGraceMs?: number;
  /** Debounce of the background GC after purges, in ms (default 1000). */
  gcDelayMs?: number;
  /** Run GC in the background after purges (default true). False for remote sessions: the server collects. */
  backgroundGc?: boolean;
  /**
   * Whether close (flushOnClose) waits until the file's buffered data is committed (default true:
   * close-to-open consistency for remote mounts). False: close starts the upload and returns.
   */
  closeWaitsForUpload?: boolean;
  /**
   * With closeWaitsForUpload false: how long a closed file's buffered data waits before its upload
   * starts, in ms (default 0: at close). Files deleted meanwhile are never uploaded; queued bytes
   * beyond half the write buffer start at once, oldest first. See WritebackQueue.
   */
  writebackDelayMs?: number;
  /** Blocks at least this big are probed for dedup before their upload (default 256 KiB). */
  dedupProbeMinBytes?: number;
}

export interface FileDataStats {
  cacheHits: number;
  cacheMisses: number;
  cacheBytes: number;
  bytesUploaded: number;
  bytesDownloaded: number;
  blocksUploaded: number;
  blocksDeduped: number;
  /** Requests to the block store for reads (each one whole block or one run of its segments). */
  blocksDownloaded: number;
  /** Block segments received from the block store (each decrypted once). */
  segmentsDownloaded: number;
  bufferedBytes: number;
  peakBufferedBytes: number;
  uploadsInFlight: number;
  slicesDropped: number;
  chunksRewritten: number;
  diskCache?: DiskCacheStats;
}

interface ReadAheadState {
  /** Where the next sequential read would start. */
  next: number;
  /** Last chunk already prefetched. */
  prefetchedTo: number;
  /** Reads in a row that continued the previous one (within SEQUENTIAL_WINDOW). */
  streak: number;
}

const MAX_READ_AHEAD_STATES = 4096;
/**
 * How far a read may start from where the previous one ended and still continue it: the kernel's
 * read-ahead has up to max_readahead (1 MiB) of requests in flight, which complete out of order.
 */
const SEQUENTIAL_WINDOW = 2 * 1024 * 1024;
/**
 * Continuing reads needed before whole chunks are prefetched (a read at offset 0 starts a reader at
 * once). One read landing near the previous by chance must not cost megabytes of fetching and
 * decryption: a random 4 KiB reader would otherwise pay for it on a few percent of its reads.
 */
const SEQUENTIAL_STREAK = 2;

const DISCARDED = Symbol('discarded');
/** Closed files that may wait for a delayed upload at once (each costs a FileBuffer in memory). */
const MAX_FILES_AWAITING_WRITEBACK = 16_384;

export class ChunkedFileData implements FileData {
  private readonly meta: MetaStore;
  private readonly blocks: BlockStore;
  private readonly chunkSize: number;
  private readonly readAheadChunks: number;
  private readonly maxSlicesPerChunk: number;
  private readonly gcGraceMs: number;
  private readonly gcDelayMs: number;
  private readonly backgroundGc: boolean;
  readonly closeWaitsForUpload: boolean;
  /** Background upload/commit failures not yet reported to a flush/fsync/close of the inode. */
  private readonly writeErrors = new Map<number, Error>();
  /** Closed files waiting for their delayed upload (null: uploads start at close). */
  private readonly writeback: WritebackQueue | null;
  /**
   * Files truncated to zero since their last close: their next close starts the upload at once
   * instead of queueing it (ext4's auto_da_alloc), so a crash soon after rewriting a file in place
   * is less likely to leave it empty.
   */
  private readonly rewritten = new Set<number>();
  /** Fired by discard(): a pump waiting for an upload slot of a purged file stops waiting. */
  private readonly discardSignals = new WeakMap<FileBuffer, { promise: Promise<void>; fire: () => void }>();
  private readonly diskCache?: DiskCache;
  private readonly fetcher: BlockFetcher;
  private readonly uploader: BlockUploader;
  private readonly buffer: WriteBuffer;
  private readonly sliceCache = new SliceCache();
  private readonly locks = new KeyedMutex<number>();
  private readonly gcLock = new RwLock();
  private readonly prefetchSlots: Semaphore;
  private readonly readAhead = new Map<number, ReadAheadState>();
  private readonly compactionsQueued = new Set<string>();
  private readonly backgroundTasks = new Set<Promise<unknown>>();
  private gcTimer: NodeJS.Timeout | null = null;
  private slicesDropped = 0;
  private chunksRewritten = 0;

  constructor(opts: ChunkedFileDataOptions) {
    if (!Number.isInteger(opts.chunkSize) || opts.chunkSize <= 0) throw new RangeError(`bad chunkSize ${opts.chunkSize}`);
    this.meta = opts.meta;
    this.blocks = opts.blocks;
    this.chunkSize = opts.chunkSize;
    this.readAheadChunks = opts.readAheadChunks ?? 2;
    this.maxSlicesPerChunk = Math.max(1, opts.maxSlicesPerChunk ?? 16);
    this.gcGraceMs = opts.gcGraceMs ?? 0;
    this.gcDelayMs = opts.gcDelayMs ?? 1000;
    this.backgroundGc = opts.backgroundGc ?? true;
    this.closeWaitsForUpload = opts.closeWaitsForUpload ?? true;
    this.diskCache = opts.diskCache;
    this.fetcher = new BlockFetcher(opts.blocks, opts.codec, opts.cache, opts.meta, opts.diskCache);
    this.uploader = new BlockUploader(opts.meta, opts.blocks, opts.codec, this.gcLock, opts.uploadConcurrency ?? 4, undefined, opts.dedupProbeMinBytes);
    this.buffer = new WriteBuffer(opts.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES, opts.chunkSize);
    this.prefetchSlots = new Semaphore(Math.max(1, this.readAheadChunks));
    const delay = opts.writebackDelayMs ?? 0;
    this.writeback = !this.closeWaitsForUpload && delay > 0
      ? new WritebackQueue(delay, this.buffer.bound / 2, MAX_FILES_AWAITING_WRITEBACK, (ino) => this.startWriteback(ino))
      : null;
  }

  // ---- reads ----

  async read(ino: number, offset: number, length: number, size: number): Promise<Buffer> {
    const end = Math.min(offset + length, size);
    if (length <= 0 || end <= offset) return Buffer.alloc(0);
    let out: Buffer;
    try {
      out = await this.readRange(ino, offset, end);
    } catch (err) {
      // A truncate or compaction between our snapshot and the fetch may have let GC delete a block
      // the snapshot still named; a fresh snapshot will not name it. A real loss fails again.
      if (!(err instanceof BlockNotFoundError)) throw err;
      out = await this.readRange(ino, offset, end);
    }
    this.noteRead(ino, offset, end, size);
    return out;
  }

  private async readRange(ino: number, offset: number, end: number): Promise<Buffer> {
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((end - 1) / cs);
    const { slices, overlay } = await this.locks.run(ino, async () => {
      const slices = await this.sliceLists(ino, first, last);
      const fb = this.buffer.file(ino);
      return { slices, overlay: fb ? this.buffer.overlay(fb, offset, end) : [] };
    });
    const out = Buffer.alloc(end - offset);
    const copies: Promise<void>[] = [];
    for (let chunk = first; chunk <= last; chunk++) {
      const base = chunk * cs;
      const pieces = resolveSlices(slices.get(chunk) ?? [], Math.max(offset, base) - base, Math.min(end, base + cs) - base);
      for (const piece of pieces) {
        copies.push(this.copyPiece(ino, piece, out, base + piece.chunkOff - offset));
      }
    }
    await Promise.all(copies);
    for (const part of overlay) part.data.copy(out, part.off - offset);
    return out;
  }

  private copyPiece(ino: number, piece: Piece, out: Buffer, at: number): Promise<void> {
    return this.fetcher.read(piece.blockId, ino, piece.blockOff, piece.blockOff + piece.len, out, at);
  }

  /** Slice lists of chunks [first, last] (empty lists for chunks without slices). Call under the inode lock. */
  private async sliceLists(ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    const result = new Map<number, Slice[]>();
    let missFirst = -1;
    let missLast = -1;
    for (let chunk = first; chunk <= last; chunk++) {
      const cached = this.sliceCache.get(ino, chunk);
      if (cached) result.set(chunk, cached);
      else {
        if (missFirst < 0) missFirst = chunk;
        missLast = chunk;
      }
    }
    if (missFirst >= 0) {
      const loaded = await this.meta.readChunks(ino, missFirst, missLast);
      for (let chunk = missFirst; chunk <= missLast; chunk++) {
        if (result.has(chunk)) continue;
        const list = loaded.get(chunk) ?? [];
        this.sliceCache.set(ino, chunk, list);
        result.set(chunk, list);
      }
    }
    return result;
  }

  /**
   * Track sequential readers and prefetch whole blocks ahead of them: the rest of the current chunk
   * (a demand read fetches only the segments it needs, for a fast first byte) and the next
   * `readAheadChunks` chunks, so block n+1.. is fetched and decrypted while block n is consumed.
   */
  private noteRead(ino: number, offset: number, end: number, size: number): void {
    if (this.readAheadChunks <= 0) return;
    const cs = this.chunkSize;
    let ra = this.readAhead.get(ino);
    const continues = ra !== undefined && Math.abs(offset - ra.next) <= SEQUENTIAL_WINDOW;
    const current = Math.floor((end - 1) / cs);
    if (!ra) {
      if (this.readAhead.size >= MAX_READ_AHEAD_STATES) this.readAhead.delete(this.readAhead.keys().next().value as number);
      ra = { next: end, prefetchedTo: current - 1, streak: 0 };
      this.readAhead.set(ino, ra);
    }
    ra.next = end;
    ra.streak = offset === 0 ? SEQUENTIAL_STREAK : continues ? ra.streak + 1 : 0;
    if (ra.streak < SEQUENTIAL_STREAK) {
      ra.prefetchedTo = current - 1;
      return;
    }
    const lastChunk = Math.floor((size - 1) / cs);
    const target = Math.min(current + this.readAheadChunks, lastChunk);
    for (let chunk = Math.max(current, ra.prefetchedTo + 1); chunk <= target; chunk++) {
      this.background(this.prefetchChunk(ino, chunk));
    }
    ra.prefetchedTo = Math.max(ra.prefetchedTo, target);
  }

  private prefetchChunk(ino: number, chunk: number): Promise<void> {
    return this.prefetchSlots
      .run(async () => {
        const slices = await this.locks.run(ino, () => this.sliceLists(ino, chunk, chunk));
        const ids = new Set(resolveSlices(slices.get(chunk) ?? [], 0, this.chunkSize).map((p) => p.blockId));
        await Promise.all([...ids].map((id) => this.fetcher.prefetch(id, ino)));
      })
      .catch((err) => log.debug({ ino, chunk, err: (err as Error).message }, 'read-ahead failed (the read itself will report it)'));
  }

  // ---- writes ----

  async write(ino: number, offset: number, data: Uint8Array, now: Timespec): Promise<void> {
    if (data.length === 0) return;
    await this.buffer.reserve(data.length, (victim) => this.flushFile(victim.ino, false));
    try {
      await this.locks.run(ino, async () => {
        const fb = await this.fileBuffer(ino);
        const full = this.buffer.write(fb, offset, data, now);
        for (const layer of full) this.startUpload(layer);
        if (full.length > 0) this.pumpInBackground(fb);
      });
    } finally {
      this.buffer.unreserve(data.length);
    }
  }

  pending(ino: number): PendingState | null {
    return this.buffer.pending(ino);
  }

  truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr> {
    if (size === 0 && this.writeback) this.rewritten.add(ino);
    return this.locks.run(ino, async () => {
      const fb = this.buffer.file(ino);
      if (fb) this.buffer.clip(fb, size, now);
      const attr = await this.meta.truncate(ino, size, now);
      this.sliceCache.dropInode(ino);
      this.readAhead.delete(ino);
      if (fb) {
        fb.committedSize = attr.size;
        this.buffer.forgetIfEmpty(fb);
      }
      return attr;
    });
  }

  flush(ino: number): Promise<void> {
    return this.flushFile(ino, true);
  }

  async flushOnClose(ino: number, report = true): Promise<void> {
    if (this.closeWaitsForUpload) return this.flushFile(ino, report);
    const dirty = this.buffer.file(ino)?.dirtyBytes ?? 0;
    const rewritten = this.rewritten.delete(ino); // a close ends the "truncated since the last close" mark
    if (this.writeback && dirty > 0 && !rewritten) this.writeback.add(ino, dirty);
    else await this.startWriteback(ino);
    if (report) this.reportWriteError(ino);
  }

  setattr(ino: number, mtime: Timespec | undefined, apply: () => Promise<InodeAttr>): Promise<InodeAttr> {
    return this.locks.run(ino, async () => {
      const attr = await apply();
      const fb = this.buffer.file(ino);
      if (fb) this.buffer.setTimes(fb, mtime, attr.ctime);
      return attr;
    });
  }

  async discard(ino: number): Promise<void> {
    this.forgetWriteback(ino);
    const fb = await this.locks.run(ino, () => {
      const fb = this.buffer.file(ino);
      if (fb) {
        this.buffer.discard(fb);
        this.buffer.forgetIfEmpty(fb);
        this.discardSignal(fb).fire();
      }
      return fb;
    });
    if (fb && fb.layers.length > 0) {
      await this.pump(fb).catch((err) => log.warn({ ino, err: (err as Error).message }, 'upload of a purged file failed'));
    }
  }

  async fsync(ino: number): Promise<void> {
    await this.flushFile(ino, true);
    await this.blocks.sync();
    await this.meta.sync();
  }

  async flushAll(): Promise<void> {
    const results = await Promise.allSettled([...this.buffer.files.keys()].map((ino) => this.flushFile(ino, false)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  invalidate(ino: number): void {
    this.sliceCache.dropInode(ino);
    this.readAhead.delete(ino);
  }

  drop(ino: number): void {
    this.writeErrors.delete(ino);
    this.forgetWriteback(ino);
    const fb = this.buffer.drop(ino);
    if (fb) {
      for (const layer of fb.layers) this.abandonUpload(layer);
      fb.layers = [];
    }
    this.sliceCache.dropInode(ino);
    this.readAhead.delete(ino);
    this.scheduleGc();
  }

  collectGarbage(opts?: { graceMs?: number }): Promise<{ deleted: number; bytes: number }> {
    return collectGarbage(this.meta, this.blocks, this.gcLock, opts?.graceMs ?? this.gcGraceMs);
  }

  /** Flush everything and wait for background work. Does not close the MetaStore or BlockStore (the volume owns them). */
  async close(): Promise<void> {
    try {
      await this.flushAll();
    } finally {
      this.writeback?.stop();
      if (this.gcTimer) clearTimeout(this.gcTimer);
      this.gcTimer = null;
      await this.whenIdle();
      await this.diskCache?.close();
    }
  }

  /** Resolves once background work (uploads, compactions, read-ahead, GC) has settled. */
  async whenIdle(): Promise<void> {
    this.writeback?.startAll();
    for (;;) {
      const pumps = [...this.buffer.files.values()].map((fb) => fb.pumping).filter((p) => p !== undefined);
      const tasks = [...this.backgroundTasks, ...pumps.map((p) => p.catch(() => {}))];
      if (tasks.length === 0) break;
      await Promise.allSettled(tasks);
    }
    await this.diskCache?.idle();
  }

  stats(): FileDataStats {
    const cache = this.fetcher.cache;
    return {
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      cacheBytes: cache.bytes,
      bytesUploaded: this.uploader.bytesUploaded,
      bytesDownloaded: this.fetcher.bytesDownloaded,
      blocksUploaded: this.uploader.blocksUploaded,
      blocksDeduped: this.uploader.blocksDeduped,
      blocksDownloaded: this.fetcher.blocksDownloaded,
      segmentsDownloaded: this.fetcher.segmentsDownloaded,
      bufferedBytes: this.buffer.bytes,
      peakBufferedBytes: this.buffer.peakBytes,
      uploadsInFlight: this.uploader.inFlight,
      slicesDropped: this.slicesDropped,
      chunksRewritten: this.chunksRewritten,
      diskCache: this.diskCache?.stats(),
    };
  }

  /** The write state of an inode, created from its committed attributes. Call under the inode lock. */
  private async fileBuffer(ino: number): Promise<FileBuffer> {
    const existing = this.buffer.file(ino);
    if (existing) return existing;
    const attr = await this.meta.getattr(ino);
    return this.buffer.file(ino) ?? this.buffer.create(ino, attr.size, attr.mtime);
  }

  /**
   * Freeze everything buffered for the inode and wait until all of it is committed. `own`: the
   * caller is a flush/fsync/close of this very file, which is told about (and clears) a remembered
   * background failure; buffer pressure and unmount flush files of others.
   */
  private async flushFile(ino: number, own: boolean): Promise<void> {
    this.writeback?.remove(ino);
    const fb = await this.freeze(ino);
    try {
      if (fb) await this.pump(fb);
    } catch (err) {
      if (own) this.writeErrors.delete(ino);
      throw err;
    }
    if (own) this.reportWriteError(ino);
  }

  /** Freeze everything buffered for the inode into layers and start their uploads. */
  private freeze(ino: number): Promise<FileBuffer | undefined> {
    return this.locks.run(ino, () => {
      const fb = this.buffer.file(ino);
      if (fb) for (const layer of this.buffer.freezeAll(fb)) this.startUpload(layer);
      return fb;
    });
  }

  /** Throw (once) a background failure of the inode's uploads that nobody was told about yet. */
  private reportWriteError(ino: number): void {
    const err = this.writeErrors.get(ino);
    if (err === undefined) return;
    this.writeErrors.delete(ino);
    throw err;
  }

  // ---- upload pipeline ----

  private startUpload(layer: Layer): Promise<UploadLease | null> {
    const upload = this.uploader.upload(() => packLayer(layer));
    upload.catch(() => {}); // the pump reports failures; an abandoned upload must not go unhandled
    layer.upload = upload;
    return upload;
  }

  private abandonUpload(layer: Layer): void {
    const upload = layer.upload as Promise<UploadLease | null> | undefined;
    layer.upload = undefined;
    upload?.then((lease) => lease?.release(), () => {});
  }

  /** Freeze the file's buffered data and upload it in the background (write-back close). */
  private startWriteback(ino: number): Promise<void> {
    const started = this.freeze(ino).then((fb) => {
      if (fb && fb.layers.length > 0) this.pumpInBackground(fb);
    });
    this.background(started);
    return started;
  }

  private forgetWriteback(ino: number): void {
    this.writeback?.remove(ino);
    this.rewritten.delete(ino);
  }

  private pumpInBackground(fb: FileBuffer): void {
    this.pump(fb).catch((err) => {
      if (!fb.dropped) log.error({ ino: fb.ino, err: (err as Error).message }, 'background upload failed; data stays buffered until the next flush');
    });
  }

  /** A pump failed: remember it for the inode's next flush/fsync/close (a waiting flush clears it). */
  private rememberWriteError(fb: FileBuffer, err: unknown): void {
    if (!fb.dropped) this.writeErrors.set(fb.ino, err instanceof Error ? err : new Error(String(err)));
  }

  /** The one pump of an inode: commit its layers strictly in order as their uploads finish. */
  private pump(fb: FileBuffer): Promise<void> {
    fb.pumping ??= this.runPump(fb);
    return fb.pumping;
  }

  private async runPump(fb: FileBuffer): Promise<void> {
    await null; // let pump() store this promise before the loop can finish and clear it
    try {
      while (!fb.dropped && fb.layers.length > 0) {
        const layer = fb.layers[0];
        if (layer.cancelled && !layer.packed) {
          // Purged before its upload got a slot: packLayer will find nothing to store; do not wait.
          await this.locks.run(fb.ino, () => {
            if (fb.layers[0] === layer) this.buffer.shiftLayer(fb);
          });
          continue;
        }
        const upload = (layer.upload as Promise<UploadLease | null> | undefined) ?? this.startUpload(layer);
        let lease: UploadLease | null;
        try {
          const outcome = await this.uploadUnlessDiscarded(fb, layer, upload);
          if (outcome === DISCARDED) continue; // the top of the loop drops the cancelled layer
          lease = outcome;
        } catch (err) {
          for (const l of fb.layers) this.abandonUpload(l);
          this.rememberWriteError(fb, err);
          throw err;
        }
        try {
          await this.locks.run(fb.ino, () => this.commitLayer(fb, layer, lease));
        } catch (err) {
          for (const l of fb.layers) this.abandonUpload(l);
          this.rememberWriteError(fb, err);
          throw err;
        } finally {
          lease?.release();
        }
      }
    } finally {
      fb.pumping = undefined;
    }
  }

  /**
   * The layer's upload, or DISCARDED if the file is purged before the upload got a slot (a purge
   * must not wait for uploads of other files to free one; packLayer will store nothing).
   */
  private async uploadUnlessDiscarded(fb: FileBuffer, layer: Layer, upload: Promise<UploadLease | null>): Promise<UploadLease | null | typeof DISCARDED> {
    if (layer.packed) return upload;
    const first = await Promise.race([upload, this.discardSignal(fb).promise.then((): typeof DISCARDED => DISCARDED)]);
    if (first === DISCARDED && !(layer.cancelled && !layer.packed)) return upload;
    return first;
  }

  private discardSignal(fb: FileBuffer): { promise: Promise<void>; fire: () => void } {
    let signal = this.discardSignals.get(fb);
    if (!signal) {
      let fire = () => {};
      const promise = new Promise<void>((resolve) => { fire = resolve; });
      signal = { promise, fire };
      this.discardSignals.set(fb, signal);
    }
    return signal;
  }

  /** Commit the head layer's slices (under the inode lock). */
  private async commitLayer(fb: FileBuffer, layer: Layer, lease: UploadLease | null): Promise<void> {
    if (fb.dropped || fb.layers[0] !== layer) return;
    const live = layer.extents.filter((e) => e.len > 0);
    if (lease && live.length > 0) {
      const base = layer.chunk * this.chunkSize;
      const slices: Slice[] = live.map((e) => ({ chunkOff: e.off, len: e.len, blockId: lease.block.id, blockOff: e.blockOff }));
      const minSize = base + Math.max(...live.map((e) => e.off + e.len));
      // Slices never reach past the committed size, so a chunk starting at or beyond it is empty:
      // one slice committed there leaves nothing to compact (small new files skip a query and a task).
      const soleSlice = slices.length === 1 && fb.committedSize <= base;
      try {
        // An attribute change after the layer's writes set a ctime to keep: committed with the data.
        const attr = await this.meta.commitSlices(fb.ino, [{ chunk: layer.chunk, slices }], [lease.block], minSize, layer.mtime, layer.ctime);
        fb.committedSize = attr.size;
      } catch (err) {
        if (!isFsError(err, 'ENOENT')) throw err;
        log.warn({ ino: fb.ino }, 'file vanished before its buffered data was committed; discarding it');
        this.drop(fb.ino);
        return;
      } finally {
        this.sliceCache.invalidate(fb.ino, layer.chunk);
      }
      if (!soleSlice) this.scheduleCompaction(fb.ino, layer.chunk);
    } else if (lease && !lease.deduped) {
      // Stored, then truncated away before its commit: record the block unreferenced so GC frees it.
      try {
        await this.meta.commitSlices(fb.ino, [], [lease.block], 0, layer.mtime, layer.ctime);
      } catch (err) {
        if (!isFsError(err, 'ENOENT')) throw err;
      }
    }
    this.buffer.shiftLayer(fb);
  }

  // ---- compaction ----

  private scheduleCompaction(ino: number, chunk: number): void {
    const key = `${ino}:${chunk}`;
    if (this.compactionsQueued.has(key)) return;
    this.compactionsQueued.add(key);
    this.background(
      this.locks
        .run(ino, () => {
          this.compactionsQueued.delete(key);
          return this.compactChunk(ino, chunk);
        })
        .catch((err) => log.warn({ ino, chunk, err: (err as Error).message }, 'compaction failed; the chunk stays as it is')),
    );
  }

  /** Drop hidden slices; rewrite a chunk with too many slices as one block. Call under the inode lock. */
  private async compactChunk(ino: number, chunk: number): Promise<void> {
    const slices = (await this.sliceLists(ino, chunk, chunk)).get(chunk) ?? [];
    if (slices.length <= 1) return;
    let current = slices;
    const visible = visibleSliceIndexes(slices, this.chunkSize);
    if (visible.size < slices.length) {
      const kept = slices.filter((_, i) => visible.has(i));
      const replaced = await this.meta.replaceChunk(ino, chunk, slices.length, kept, []);
      this.sliceCache.invalidate(ino, chunk);
      if (!replaced) return;
      this.slicesDropped += slices.length - kept.length;
      current = kept;
    }
    if (current.length > this.maxSlicesPerChunk) await this.rewriteChunk(ino, chunk, current);
  }

  private async rewriteChunk(ino: number, chunk: number, slices: Slice[]): Promise<void> {
    const pieces = resolveSlices(slices, 0, this.chunkSize);
    let runs = contiguousRuns(pieces);
    if (runs.length > this.maxSlicesPerChunk) runs = [{ off: runs[0].off, len: runs[runs.length - 1].off + runs[runs.length - 1].len - runs[0].off }];
    const total = runs.reduce((n, r) => n + r.len, 0);
    const plain = Buffer.alloc(total);
    const newSlices: Array<Omit<Slice, 'blockId'>> = [];
    let blockOff = 0;
    for (const run of runs) {
      newSlices.push({ chunkOff: run.off, len: run.len, blockOff });
      blockOff += run.len;
    }
    await Promise.all(
      pieces.map(async (piece) => {
        const i = runs.findIndex((r) => piece.chunkOff >= r.off && piece.chunkOff < r.off + r.len);
        await this.copyPiece(ino, piece, plain, newSlices[i].blockOff + piece.chunkOff - runs[i].off);
      }),
    );
    const lease = await this.uploader.upload(() => plain);
    if (!lease) return;
    try {
      const replaced = await this.meta.replaceChunk(ino, chunk, slices.length, newSlices.map((s) => ({ ...s, blockId: lease.block.id })), [lease.block]);
      if (replaced) this.chunksRewritten++;
    } finally {
      lease.release();
      this.sliceCache.invalidate(ino, chunk);
    }
  }

  // ---- background work ----

  private scheduleGc(): void {
    if (this.gcTimer || !this.backgroundGc) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = null;
      this.background(
        this.collectGarbage().catch((err) => log.warn({ err: (err as Error).message }, 'background garbage collection failed')),
      );
    }, this.gcDelayMs);
    this.gcTimer.unref();
  }

  private background(task: Promise<unknown>): void {
    this.backgroundTasks.add(task);
    const done = () => {
      this.backgroundTasks.delete(task);
    };
    task.then(done, done);
  }
}

/** Merge sorted visible pieces into maximal contiguous runs of chunk offsets. */
function contiguousRuns(pieces: readonly Piece[]): Array<{ off: number; len: number }> {
  const runs: Array<{ off: number; len: number }> = [];
  for (const p of pieces) {
    const last = runs[runs.length - 1];
    if (last && last.off + last.len === p.chunkOff) last.len += p.len;
    else runs.push({ off: p.chunkOff, len: p.len });
  }
  return runs;
}
