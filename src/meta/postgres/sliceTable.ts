import { FsError } from '../../errors.js';
import type { ChunkWrite, NewBlock, Slice } from '../MetaStore.js';
import { groupSliceRows, validateChunkWrite, validateNewBlocks, type SliceRow } from '../sliceRules.js';
import { run, type Queryable } from './pgClient.js';
import type { MetaStatements } from './statements.js';

/**
 * The slices and blocks tables (PostgreSQL): the same rules as the SQLite SliceTable — every slice
 * row holds one ref on its block, a block reaching 0 refs gets zero_since = now, the inode's alloc
 * equals the sum of its slice lengths — but set-based: a commit of any number of slices is one
 * statement for the refs and one for the rows. Methods that change rows run in the caller's transaction.
 */
export class PgSliceTable {
  constructor(private readonly s: MetaStatements, readonly chunkSize: number) {}

  async read(db: Queryable, ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    return groupSliceRows(await run<SliceRow>(db, this.s.readChunks, [ino, first, last]));
  }

  /** EINVAL unless every slice fits its chunk and names a well-formed block id. */
  validate(w: ChunkWrite): void {
    validateChunkWrite(w, this.chunkSize);
  }

  /** EINVAL for a malformed new block record. */
  validateBlocks(blocks: NewBlock[]): void {
    validateNewBlocks(blocks);
  }

  /** Record blocks not yet known, with refs 0 (unreferenced until a slice names them). */
  async recordBlocks(db: Queryable, blocks: NewBlock[]): Promise<void> {
    if (blocks.length === 0) return;
    await run(db, this.s.insertBlocks, [
      blocks.map((b) => b.id), blocks.map((b) => b.size), blocks.map((b) => b.storedSize), Date.now(),
    ]);
  }

  /** Append slices after the existing ones of their chunks. Returns the bytes added (alloc delta). */
  async append(db: Queryable, ino: number, writes: ChunkWrite[]): Promise<number> {
    const all: Array<{ chunk: number; k: number; sl: Slice }> = [];
    const perChunk = new Map<number, number>();
    for (const w of writes) {
      for (const sl of w.slices) {
        const k = perChunk.get(w.chunk) ?? 0;
        perChunk.set(w.chunk, k + 1);
        all.push({ chunk: w.chunk, k, sl });
      }
    }
    if (all.length === 0) return 0;
    await this.addRefs(db, all.map((a) => a.sl));
    await run(db, this.s.appendSlices, [
      ino, all.map((a) => a.chunk), all.map((a) => a.k), all.map((a) => a.sl.chunkOff), all.map((a) => a.sl.len),
      all.map((a) => a.sl.blockId), all.map((a) => a.sl.blockOff),
    ]);
    return sumLen(all.map((a) => a.sl));
  }

  async countChunk(db: Queryable, ino: number, chunk: number): Promise<number> {
    return (await run<{ n: number }>(db, this.s.countChunk, [ino, chunk]))[0].n;
  }

  /** Replace the whole slice list of a chunk (new refs are added before old ones drop). */
  async replace(db: Queryable, ino: number, chunk: number, slices: Slice[]): Promise<void> {
    if (slices.length > 0) await this.addRefs(db, slices);
    const [{ freed }] = await run<{ freed: number }>(db, this.s.dropChunks, [ino, chunk, true, Date.now()]);
    if (slices.length > 0) {
      await run(db, this.s.appendSlices, [
        ino, slices.map(() => chunk), slices.map((_, k) => k), slices.map((s) => s.chunkOff), slices.map((s) => s.len),
        slices.map((s) => s.blockId), slices.map((s) => s.blockOff),
      ]);
    }
    const delta = sumLen(slices) - freed;
    if (delta !== 0) await run(db, this.s.addAlloc, [delta, ino]);
  }

  /**
   * Delete or trim every slice of a file past byte `offset`, dropping block refs to match.
   * Returns the change of the inode's alloc (<= 0); the caller applies it.
   */
  async cutFrom(db: Queryable, ino: number, offset: number): Promise<number> {
    const chunk = Math.floor(offset / this.chunkSize);
    const within = offset - chunk * this.chunkSize;
    const firstWhole = within === 0 ? chunk : chunk + 1;
    const stamp = Date.now();
    let [{ freed }] = await run<{ freed: number }>(db, this.s.dropChunks, [ino, firstWhole, false, stamp]);
    if (within > 0) {
      const crossing = await run<{ seq: number; chunk_off: number; len: number; block_id: string }>(
        db, this.s.slicesCrossing, [ino, chunk, within]);
      for (const r of crossing) {
        if (r.chunk_off >= within) {
          await run(db, this.s.deleteSlice, [ino, chunk, r.seq]);
          await run(db, this.s.dropRefs, [[r.block_id], [1], stamp]);
          freed += r.len;
        } else {
          await run(db, this.s.setSliceLen, [within - r.chunk_off, ino, chunk, r.seq]);
          freed += r.chunk_off + r.len - within;
        }
      }
    }
    return -freed;
  }

  /** One ref per slice on its block; EIO for an unrecorded block, EINVAL for a slice past a block's end. */
  private async addRefs(db: Queryable, slices: Slice[]): Promise<void> {
    const uses = new Map<string, { n: number; want: number }>();
    for (const sl of slices) {
      const u = uses.get(sl.blockId);
      const end = sl.blockOff + sl.len;
      if (u) { u.n++; u.want = Math.max(u.want, end); } else uses.set(sl.blockId, { n: 1, want: end });
    }
    const ids = [...uses.keys()];
    const done = await run<{ id: string }>(db, this.s.addRefs, [ids, ids.map((id) => uses.get(id)!.n), ids.map((id) => uses.get(id)!.want)]);
    if (done.length === ids.length) return;
    const ok = new Set(done.map((r) => r.id));
    for (const id of ids) {
      if (ok.has(id)) continue;
      if ((await run(db, this.s.getBlock, [id])).length === 0) throw new FsError('EIO', `slice names unrecorded block ${id}`);
      throw new FsError('EINVAL', `slice reaches past the end of block ${id}`);
    }
  }
}

function sumLen(slices: Slice[]): number {
  return slices.reduce((sum, sl) => sum + sl.len, 0);
}
