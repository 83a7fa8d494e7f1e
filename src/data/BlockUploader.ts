/**
 * Seals a packed plaintext into a block and makes sure the block store has it: for a block of at
 * least `dedupProbeMinBytes` (default 256 KiB), if the MetaStore already records the id with refs > 0
 * the upload is skipped (dedup), otherwise the sealed bytes are put. A smaller block is put without
 * asking: storing it again (put is idempotent, the sealed bytes are the same) is cheaper than a
 * MetaStore round trip per block (an HTTP request on remote mounts). Refcounts stay exact either
 * way: commitSlices records a block only if absent and counts one reference per slice. The returned lease holds the GC lock shared until the caller has committed the block's refs
 * (or given up), so garbage collection can never delete a block between dedup check and commit.
 *
 * Backend down: a put failing with a transient error (see block/compose/retry.ts: dropped
 * connections, timeouts, 5xx/429, EAGAIN) is retried with exponential backoff until the retry
 * deadline (default 60 s; MOSAICFS_UPLOAD_DEADLINE_MS or the `retry` option), then fails with EIO.
 * While it retries, the upload slot stays taken and the data stays in the write buffer, so writers
 * feel back-pressure (they wait) instead of errors, and flush/fsync wait until the data is stored —
 * or report EIO at the deadline (the data stays buffered; the next flush tries again). A final error
 * (ENOSPC, a rejected token, ...) fails at once. Concurrent uploads of the same block share one put.
 */
import type { BlockStore } from '../block/BlockStore.js';
import { type RetryPolicy, policyFromEnv, retryTransient } from '../block/compose/retry.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import type { MetaStore, NewBlock } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import { Inflight } from './Inflight.js';
import type { RwLock } from './RwLock.js';
import { Semaphore } from './Semaphore.js';

export const DEFAULT_DEDUP_PROBE_MIN_BYTES = 256 * 1024;

export const DEFAULT_UPLOAD_RETRY: RetryPolicy = { deadlineMs: 60_000, baseDelayMs: 50, maxDelayMs: 5_000 };

export interface UploadLease {
  block: NewBlock;
  deduped: boolean;
  /** Release the GC lock: call exactly once, after the commit (or on failure). */
  release(): void;
}

export class BlockUploader {
  private readonly slots: Semaphore;
  private readonly puts = new Inflight<string, void>();
  private readonly retry: RetryPolicy;
  bytesUploaded = 0;
  blocksUploaded = 0;
  blocksDeduped = 0;
  /** Put attempts that failed transiently and were retried. */
  putRetries = 0;

  constructor(
    private readonly meta: MetaStore,
    private readonly blocks: BlockStore,
    private readonly codec: BlockCodec,
    private readonly gcLock: RwLock,
    concurrency: number,
    retry?: Partial<RetryPolicy>,
    private readonly dedupProbeMinBytes = DEFAULT_DEDUP_PROBE_MIN_BYTES,
  ) {
    this.slots = new Semaphore(concurrency);
    this.retry = { ...policyFromEnv('MOSAICFS_UPLOAD_DEADLINE_MS', DEFAULT_UPLOAD_RETRY), ...retry };
  }

  get inFlight(): number {
    return this.slots.inUse;
  }

  /**
   * `pack` runs once an upload slot is free, so it sees the latest state of what it packs; when it
   * returns null there is nothing to upload and the result is null.
   */
  upload(pack: () => Buffer | null): Promise<UploadLease | null> {
    return this.slots.run(async () => {
      const release = await this.gcLock.acquireShared();
      try {
        const plain = pack();
        if (plain === null) {
          release();
          return null;
        }
        const id = this.codec.idOf(plain);
        const known = plain.length >= this.dedupProbeMinBytes ? await this.meta.getBlock(id) : null;
        if (known && known.refs > 0) {
          this.blocksDeduped++;
          return { block: { id, size: known.size, storedSize: known.storedSize }, deduped: true, release };
        }
        const sealed = this.codec.sealWithId(id, plain);
        await this.puts.run(id, () => this.put(id, sealed));
        this.bytesUploaded += sealed.length;
        this.blocksUploaded++;
        return { block: { id, size: plain.length, storedSize: sealed.length }, deduped: false, release };
      } catch (err) {
        release();
        throw err;
      }
    });
  }

  private put(id: string, sealed: Buffer): Promise<void> {
    let attempt = 0;
    return retryTransient(`upload of block ${id}`, this.retry, async () => {
      if (attempt++ > 0) {
        this.putRetries++;
        if (attempt === 2) log.warn({ blockId: id, store: this.blocks.name }, 'block upload failed transiently; retrying with backoff');
      }
      await this.blocks.put(id, sealed);
    });
  }
}
