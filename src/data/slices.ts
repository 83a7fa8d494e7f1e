import type { Slice } from '../meta/MetaStore.js';

/** A visible run of a chunk: chunk bytes [chunkOff, chunkOff+len) come from block bytes at blockOff. */
export interface Piece {
  chunkOff: number;
  len: number;
  blockId: string;
  blockOff: number;
  /** Index of the slice it comes from in the chunk's slice list. */
  slice: number;
}

/**
 * Resolve a chunk's slices (oldest first; later ones win) into the visible pieces inside chunk
 * range [from, to), sorted by chunkOff. Uncovered bytes are holes.
 */
export function resolveSlices(slices: readonly Slice[], from: number, to: number): Piece[] {
  let uncovered: Array<[number, number]> = from < to ? [[from, to]] : [];
  const pieces: Piece[] = [];
  for (let i = slices.length - 1; i >= 0 && uncovered.length > 0; i--) {
    const s = slices[i];
    const sEnd = s.chunkOff + s.len;
    const next: Array<[number, number]> = [];
    for (const [a, b] of uncovered) {
      const x = Math.max(a, s.chunkOff);
      const y = Math.min(b, sEnd);
      if (x >= y) {
        next.push([a, b]);
        continue;
      }
      pieces.push({ chunkOff: x, len: y - x, blockId: s.blockId, blockOff: s.blockOff + (x - s.chunkOff), slice: i });
      if (a < x) next.push([a, x]);
      if (y < b) next.push([y, b]);
    }
    uncovered = next;
  }
  return pieces.sort((p, q) => p.chunkOff - q.chunkOff);
}

/** Indexes of slices that contribute at least one visible byte to the chunk. */
export function visibleSliceIndexes(slices: readonly Slice[], chunkSize: number): Set<number> {
  return new Set(resolveSlices(slices, 0, chunkSize).map((p) => p.slice));
}
