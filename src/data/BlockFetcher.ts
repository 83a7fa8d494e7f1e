/**
 * Gets a block's plaintext: memory cache, then disk cache (sealed, authenticated again), then the
 * block store. Concurrent requests for one block share one fetch. A block that fails authentication
 * is logged with its id and the inode that wanted it, never cached, and the IntegrityError (EIO)
 * is thrown; a bad copy in the disk cache is deleted and the block store is asked instead.
 */
import type { BlockStore } from '../block/BlockStore.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import { IntegrityError } from '../errors.js';
import { log } from '../util/log.js';
import type { BlockCache } from './BlockCache.js';
import type { DiskCache } from './DiskCache.js';

export class BlockFetcher {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  bytesDownloaded = 0;
  blocksDownloaded = 0;

  constructor(
    private readonly blocks: BlockStore,
    private readonly codec: BlockCodec,
    readonly cache: BlockCache,
    private readonly diskCache?: DiskCache,
  ) {}

  /** Plaintext of a block (shared buffer: do not modify). `ino` is only for the error log. */
  get(id: string, ino: number): Promise<Buffer> {
    const cached = this.cache.get(id);
    if (cached) return Promise.resolve(cached);
    return this.shared(id, ino);
  }

  /** Bring a block into the memory cache without counting a hit or miss (read-ahead). */
  async prefetch(id: string, ino: number): Promise<void> {
    if (this.isCachedOrLoading(id)) return;
    await this.shared(id, ino);
  }

  private shared(id: string, ino: number): Promise<Buffer> {
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.load(id, ino).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }

  isCachedOrLoading(id: string): boolean {
    return this.cache.has(id) || this.inflight.has(id);
  }

  private async load(id: string, ino: number): Promise<Buffer> {
    const fromDisk = await this.diskCache?.get(id);
    if (fromDisk) {
      try {
        const plain = this.codec.open(id, fromDisk);
        this.cache.set(id, plain);
        return plain;
      } catch (err) {
        log.warn({ blockId: id, ino, err: (err as Error).message }, 'disk cache copy of block failed authentication; refetching');
        await this.diskCache?.delete(id);
      }
    }
    const sealed = await this.blocks.get(id);
    this.bytesDownloaded += sealed.length;
    this.blocksDownloaded++;
    let plain: Buffer;
    try {
      plain = this.codec.open(id, sealed);
    } catch (err) {
      const integrity = err instanceof IntegrityError ? err : new IntegrityError(id, (err as Error).message);
      log.error({ blockId: id, ino, err: integrity.message }, 'block failed integrity check');
      throw integrity;
    }
    this.cache.set(id, plain);
    this.diskCache?.put(id, sealed);
    return plain;
  }
}
