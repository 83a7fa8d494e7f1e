import { FsError } from '../../errors.js';
import type { ChunkWrite, NewBlock, Slice } from '../MetaStore.js';
import { groupSliceRows, validateChunkWrite, validateNewBlocks, type SliceRow } from '../sliceRules.js';
import type { Statements } from './statements.js';

/**
 * The slices and blocks tables of a file's contents, keeping block refs exact: every slice row holds
 * one ref on its block; a block whose refs reach 0 gets zero_since = now. The inode's alloc column is
 * kept equal to the sum of its slice lengths here, by deltas (getattr never scans). Methods that
 * change rows must run inside the caller's transaction.
 */
export class SliceTable {
  constructor(private readonly s: Statements, readonly chunkSize: number) {}

  read(ino: number, first: number, last: number): Map<number, Slice[]> {
    return groupSliceRows(this.s.readChunks.all(ino, first, last) as SliceRow[]);
  }

  /** EINVAL unless every slice fits its chunk and names a well-formed block id. */
  validate(w: ChunkWrite): void {
    validateChunkWrite(w, this.chunkSize);
  }

  /** Record blocks not yet known, with refs 0 (so unreferenced until a slice names them). */
  recordBlocks(blocks: NewBlock[]): void {
    validateNewBlocks(blocks);
    const stamp = Date.now();
    for (const b of blocks) this.s.insertBlock.run(b.id, b.size, b.storedSize, stamp);
  }

  /**
   * Append slices after the existing ones of a chunk. Returns the change of the inode's alloc, which
   * the CALLER must add to the inode's alloc column (commitSlices does so with its size update).
   */
  appendLeavingAlloc(ino: number, w: ChunkWrite): number {
    let seq = (this.s.nextSeq.get(ino, w.chunk) as { seq: number }).seq;
    for (const sl of w.slices) this.insert(ino, w.chunk, seq++, sl);
    return sumLen(w.slices);
  }

  countChunk(ino: number, chunk: number): number {
    return (this.s.countChunk.get(ino, chunk) as { n: number }).n;
  }

  /** Replace the whole slice list of a chunk. */
  replace(ino: number, chunk: number, slices: Slice[]): void {
    const old = this.s.chunkBlocks.all(ino, chunk) as BlockUse[];
    this.s.deleteChunk.run(ino, chunk);
    // New refs before old ones drop, so a block in both lists never passes through refs 0.
    slices.forEach((sl, seq) => this.insert(ino, chunk, seq, sl));
    const stamp = Date.now();
    for (const r of old) this.s.dropRefs.run({ id: r.block_id, n: r.n, stamp });
    this.addAlloc(ino, sumLen(slices) - old.reduce((sum, r) => sum + r.bytes, 0));
  }

  /**
   * Delete or trim every slice of a file past byte `offset`, dropping block refs to match.
   * Returns the change of the inode's alloc (<= 0).
   */
  cutFrom(ino: number, offset: number): number {
    return this.addAlloc(ino, -this.cutFromLeavingAlloc(ino, offset));
  }

  /** Delete every slice of an inode that is about to be deleted (its alloc is not worth updating). */
  dropAll(ino: number): void {
    this.cutFromLeavingAlloc(ino, 0);
  }

  /** cutFrom() without the alloc update; returns the bytes freed. */
  private cutFromLeavingAlloc(ino: number, offset: number): number {
    const chunk = Math.floor(offset / this.chunkSize);
    const within = offset - chunk * this.chunkSize;
    const firstWhole = within === 0 ? chunk : chunk + 1;
    const stamp = Date.now();
    let freed = 0;
    const whole = this.s.slicesFromChunk.all(ino, firstWhole) as Array<[blockId: string, len: number]>;
    if (whole.length > 0) {
      this.s.deleteFromChunk.run(ino, firstWhole);
      const refs = new Map<string, number>();
      for (const [id, len] of whole) {
        refs.set(id, (refs.get(id) ?? 0) + 1);
        freed += len;
      }
      for (const [id, n] of refs) this.s.dropRefs.run({ id, n, stamp });
    }
    if (within > 0) freed += this.cutChunkAt(ino, chunk, within, stamp);
    return freed;
  }

  /** Delete or trim the slices of one chunk past offset `within` in it; returns the bytes they lose. */
  private cutChunkAt(ino: number, chunk: number, within: number, stamp: number): number {
    let freed = 0;
    const crossing = this.s.slicesCrossing.all(ino, chunk, within) as Array<{
      seq: number; chunk_off: number; len: number; block_id: string;
    }>;
    for (const r of crossing) {
      if (r.chunk_off >= within) {
        this.s.deleteSlice.run(ino, chunk, r.seq);
        this.s.dropRefs.run({ id: r.block_id, n: 1, stamp });
        freed += r.len;
      } else {
        this.s.setSliceLen.run(within - r.chunk_off, ino, chunk, r.seq);
        freed += r.chunk_off + r.len - within;
      }
    }
    return freed;
  }

  private addAlloc(ino: number, delta: number): number {
    if (delta !== 0) this.s.addAlloc.run(delta, ino);
    return delta;
  }

  private insert(ino: number, chunk: number, seq: number, sl: Slice): void {
    if (this.s.addRef.run({ id: sl.blockId, end: sl.blockOff + sl.len }).changes === 0) {
      if (!this.s.getBlock.get(sl.blockId)) throw new FsError('EIO', `slice names unrecorded block ${sl.blockId}`);
      throw new FsError('EINVAL', `slice reaches past the end of block ${sl.blockId}`);
    }
    this.s.insertSlice.run(ino, chunk, seq, sl.chunkOff, sl.len, sl.blockId, sl.blockOff);
  }
}

/** Slices of one block in a chunk range: how many, and their total length. */
interface BlockUse {
  block_id: string;
  n: number;
  bytes: number;
}

function sumLen(slices: Slice[]): number {
  return slices.reduce((sum, sl) => sum + sl.len, 0);
}
