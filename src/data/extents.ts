/**
 * Dirty extents of one chunk in the write buffer: sorted, non-overlapping, non-adjacent runs of
 * buffered bytes (offsets relative to the chunk). Each extent owns a buffer that may have spare
 * capacity past `len`, so a run of small sequential writes appends in place instead of recopying.
 */
export interface Extent {
  off: number;
  len: number;
  buf: Buffer;
}

/**
 * Merge `data` at chunk offset `off` into `list` (later data wins). Returns how many bytes the
 * buffered total grew by. `maxEnd` bounds capacity growth (the chunk size).
 */
export function insertExtent(list: Extent[], off: number, data: Uint8Array, maxEnd: number): number {
  const end = off + data.length;
  // First extent that ends at or after `off` (touching counts: adjacent runs merge).
  let lo = 0;
  while (lo < list.length && list[lo].off + list[lo].len < off) lo++;
  let hi = lo;
  while (hi < list.length && list[hi].off <= end) hi++;
  const touched = list.slice(lo, hi);

  if (touched.length === 1) {
    const ext = touched[0];
    const newEnd = Math.max(end, ext.off + ext.len);
    if (ext.off <= off && newEnd - ext.off <= ext.buf.length) {
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(ext.buf, off - ext.off);
      const grown = newEnd - ext.off - ext.len;
      ext.len = newEnd - ext.off;
      return grown;
    }
  }

  const start = touched.length > 0 ? Math.min(off, touched[0].off) : off;
  const stop = touched.length > 0 ? Math.max(end, touched[touched.length - 1].off + touched[touched.length - 1].len) : end;
  const needed = stop - start;
  const capacity = Math.max(needed, Math.min(needed * 2, maxEnd - start));
  const buf = Buffer.allocUnsafe(capacity);
  let before = 0;
  for (const ext of touched) {
    ext.buf.copy(buf, ext.off - start, 0, ext.len);
    before += ext.len;
  }
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, off - start);
  list.splice(lo, hi - lo, { off: start, len: needed, buf });
  return needed - before;
}

/** Drop bytes at or past chunk offset `cut`. Returns how many bytes were removed. */
export function clipExtents(list: Extent[], cut: number): number {
  let removed = 0;
  for (let i = list.length - 1; i >= 0; i--) {
    const ext = list[i];
    if (ext.off >= cut) {
      removed += ext.len;
      list.splice(i, 1);
    } else if (ext.off + ext.len > cut) {
      removed += ext.off + ext.len - cut;
      ext.len = cut - ext.off;
    }
  }
  return removed;
}

export function extentBytes(list: readonly Extent[]): number {
  let n = 0;
  for (const ext of list) n += ext.len;
  return n;
}

/** Furthest chunk offset covered, or 0. */
export function extentsEnd(list: readonly Extent[]): number {
  const last = list[list.length - 1];
  return last ? last.off + last.len : 0;
}

/** A copy of the parts of `list` inside chunk range [from, to), as (chunk offset, bytes) pairs. */
export function copyRange(list: readonly Extent[], from: number, to: number): Array<{ off: number; data: Buffer }> {
  const out: Array<{ off: number; data: Buffer }> = [];
  for (const ext of list) {
    const s = Math.max(from, ext.off);
    const e = Math.min(to, ext.off + ext.len);
    if (s < e) out.push({ off: s, data: Buffer.from(ext.buf.subarray(s - ext.off, e - ext.off)) });
  }
  return out;
}
