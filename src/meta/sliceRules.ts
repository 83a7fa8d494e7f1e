import { FsError } from '../errors.js';
import { BLOCK_ID_RE } from '../block/BlockStore.js';
import type { ChunkWrite, NewBlock, Slice } from './MetaStore.js';

/** Engine-neutral rules of the slice tables, shared by the SQLite and PostgreSQL engines. */

export interface SliceRow {
  chunk: number;
  chunk_off: number;
  len: number;
  block_id: string;
  block_off: number;
}

/** Rows ordered by (chunk, write order) -> the slice lists of MetaStore.readChunks. */
export function groupSliceRows(rows: Iterable<SliceRow>): Map<number, Slice[]> {
  const out = new Map<number, Slice[]>();
  for (const r of rows) {
    let list = out.get(r.chunk);
    if (!list) out.set(r.chunk, (list = []));
    list.push({ chunkOff: r.chunk_off, len: r.len, blockId: r.block_id, blockOff: r.block_off });
  }
  return out;
}

/** EINVAL unless every slice fits its chunk and names a well-formed block id. */
export function validateChunkWrite(w: ChunkWrite, chunkSize: number): void {
  if (!Number.isSafeInteger(w.chunk) || w.chunk < 0) throw new FsError('EINVAL', `chunk ${w.chunk}`);
  for (const sl of w.slices) {
    const ok = Number.isSafeInteger(sl.chunkOff) && Number.isSafeInteger(sl.len) && Number.isSafeInteger(sl.blockOff)
      && sl.chunkOff >= 0 && sl.len > 0 && sl.blockOff >= 0 && sl.chunkOff + sl.len <= chunkSize
      && typeof sl.blockId === 'string' && BLOCK_ID_RE.test(sl.blockId);
    if (!ok) throw new FsError('EINVAL', `bad slice ${JSON.stringify(sl)} for chunk size ${chunkSize}`);
  }
}

/** EINVAL for a malformed new block record. */
export function validateNewBlocks(blocks: NewBlock[]): void {
  for (const b of blocks) {
    if (typeof b.id !== 'string' || !BLOCK_ID_RE.test(b.id) || !Number.isSafeInteger(b.size) || b.size < 0
      || !Number.isSafeInteger(b.storedSize) || b.storedSize < 0) {
      throw new FsError('EINVAL', `bad new block ${JSON.stringify(b)}`);
    }
  }
}
