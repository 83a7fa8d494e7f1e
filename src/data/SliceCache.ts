import type { Slice } from '../meta/MetaStore.js';

/**
 * In-memory copy of slice lists per inode and chunk (an empty list records "no slices"). Only
 * ChunkedFileData changes slices, under the inode's lock, and it invalidates what it changes, so a
 * cached list is always the committed one. Bounded by a number of chunk entries, evicting whole
 * inodes least recently used first.
 */
export class SliceCache {
  private readonly byIno = new Map<number, Map<number, Slice[]>>();
  private entries = 0;

  constructor(private readonly maxEntries = 65536) {}

  get(ino: number, chunk: number): Slice[] | undefined {
    const chunks = this.byIno.get(ino);
    if (!chunks) return undefined;
    this.byIno.delete(ino);
    this.byIno.set(ino, chunks);
    return chunks.get(chunk);
  }

  set(ino: number, chunk: number, slices: Slice[]): void {
    let chunks = this.byIno.get(ino);
    if (!chunks) {
      chunks = new Map();
      this.byIno.set(ino, chunks);
    }
    if (!chunks.has(chunk)) this.entries++;
    chunks.set(chunk, slices);
    for (const [oldIno, old] of this.byIno) {
      if (this.entries <= this.maxEntries || oldIno === ino) break;
      this.dropInode(oldIno);
    }
  }

  invalidate(ino: number, chunk: number): void {
    const chunks = this.byIno.get(ino);
    if (chunks?.delete(chunk)) this.entries--;
  }

  dropInode(ino: number): void {
    const chunks = this.byIno.get(ino);
    if (!chunks) return;
    this.entries -= chunks.size;
    this.byIno.delete(ino);
  }
}
