/** A BlockStore that forwards everything to an inner store; test wrappers override what they watch or hold. */
import type { BlockInfo, BlockStore } from '../../src/block/BlockStore.js';

export class ForwardingBlockStore implements BlockStore {
  readonly name: string;

  constructor(protected readonly inner: BlockStore, label: string) {
    this.name = `${label}(${inner.name})`;
  }

  put(id: string, data: Uint8Array): Promise<void> {
    return this.inner.put(id, data);
  }
  get(id: string): Promise<Buffer> {
    return this.inner.get(id);
  }
  getRange(id: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(id, offset, length);
  }
  has(id: string): Promise<boolean> {
    return this.inner.has(id);
  }
  delete(id: string): Promise<void> {
    return this.inner.delete(id);
  }
  list(): AsyncIterable<BlockInfo> {
    return this.inner.list();
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  close(): Promise<void> {
    return Promise.resolve(); // the fixture that made the inner store closes it
  }
}
