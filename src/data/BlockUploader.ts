/**
 * Seals a packed plaintext into a block and makes sure the block store has it: if the MetaStore
 * already records the id with refs > 0 the upload is skipped (dedup), otherwise the sealed bytes are
 * put. The returned lease holds the GC lock shared until the caller has committed the block's refs
 * (or given up), so garbage collection can never delete a block between dedup check and commit.
 */
import type { BlockStore } from '../block/BlockStore.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import type { MetaStore, NewBlock } from '../meta/MetaStore.js';
import type { RwLock } from './RwLock.js';
import { Semaphore } from './Semaphore.js';

export interface UploadLease {
  block: NewBlock;
  deduped: boolean;
  /** Release the GC lock: call exactly once, after the commit (or on failure). */
  release(): void;
}

export class BlockUploader {
  private readonly slots: Semaphore;
  bytesUploaded = 0;
  blocksUploaded = 0;
  blocksDeduped = 0;

  constructor(
    private readonly meta: MetaStore,
    private readonly blocks: BlockStore,
    private readonly codec: BlockCodec,
    private readonly gcLock: RwLock,
    concurrency: number,
  ) {
    this.slots = new Semaphore(concurrency);
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
        const known = await this.meta.getBlock(id);
        if (known && known.refs > 0) {
          this.blocksDeduped++;
          return { block: { id, size: known.size, storedSize: known.storedSize }, deduped: true, release };
        }
        const sealed = this.codec.sealWithId(id, plain);
        await this.blocks.put(id, sealed);
        this.bytesUploaded += sealed.length;
        this.blocksUploaded++;
        return { block: { id, size: plain.length, storedSize: sealed.length }, deduped: false, release };
      } catch (err) {
        release();
        throw err;
      }
    });
  }
}
