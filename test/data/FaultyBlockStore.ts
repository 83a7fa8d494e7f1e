/** A BlockStore wrapper for fault injection: slow or failing puts, counted reads. */
import type { BlockStore } from '../../src/block/BlockStore.js';
import { ForwardingBlockStore } from '../helpers/ForwardingBlockStore.js';
import { FsError } from '../../src/errors.js';

export class FaultyBlockStore extends ForwardingBlockStore {
  failPuts = false;
  putDelayMs = 0;
  puts = 0;
  /** Read requests of any kind (get and getRange). */
  gets = 0;
  /** getRange requests only. */
  ranges = 0;
  /** Bytes returned by get and getRange. */
  bytesRead = 0;

  constructor(inner: BlockStore) {
    super(inner, 'faulty');
  }

  override async put(id: string, data: Uint8Array): Promise<void> {
    if (this.putDelayMs > 0) await new Promise((r) => setTimeout(r, this.putDelayMs));
    if (this.failPuts) throw new FsError('EIO', 'injected put failure');
    this.puts++;
    return this.inner.put(id, data);
  }
  override async get(id: string): Promise<Buffer> {
    this.gets++;
    const data = await this.inner.get(id);
    this.bytesRead += data.length;
    return data;
  }
  override async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    this.gets++;
    this.ranges++;
    const data = await this.inner.getRange(id, offset, length);
    this.bytesRead += data.length;
    return data;
  }
}
