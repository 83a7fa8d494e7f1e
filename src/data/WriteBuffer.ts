/**
 * The write buffer: per inode, per chunk, sorted non-overlapping dirty extents (see extents.ts),
 * plus per inode a FIFO of frozen "layers" (one chunk's extents each) that are being uploaded and
 * must be committed in order. Reads overlay committed slices < layers (oldest first) < dirty
 * extents. Bytes are accounted globally (dirty + layers + space reserved by writes in progress) so
 * write() can wait for space: the buffer never holds more than the bound plus one write.
 */
import type { PendingState } from './FileData.js';
import type { Timespec } from '../meta/MetaStore.js';
import { compareTime } from '../util/time.js';
import { type Extent, clipExtents, copyRange, extentBytes, insertExtent } from './extents.js';

export const DEFAULT_WRITE_BUFFER_BYTES = 64 * 1024 * 1024;

/** A frozen extent: blockOff is its offset in the packed block (set when packed). */
export interface LayerExtent extends Extent {
  blockOff: number;
}

export interface Layer {
  chunk: number;
  extents: LayerExtent[];
  bytes: number;
  /** mtime to commit: the last write before freezing, or an mtime set explicitly since (utimens), or a later truncation's time. */
  mtime: Timespec;
  /**
   * ctime the file must keep after this layer commits (commitSlices sets ctime = mtime): set when an
   * attribute change (chmod, utimens, ...) came after the layer's writes.
   */
  ctime?: Timespec;
  /** The file is being purged: if not packed yet, upload nothing. */
  cancelled?: boolean;
  /** packLayer ran: the layer's block is being (or was) stored, so it must be committed. */
  packed?: boolean;
  /** Started upload (resolves to null when nothing was left to upload); reset on failure. */
  upload?: Promise<unknown>;
}

export interface FileBuffer {
  ino: number;
  committedSize: number;
  /** Furthest buffered byte (an upper bound; committedSize covers what was committed). */
  maxEnd: number;
  /** mtime buffered data commits with: the last write's time, or an mtime set explicitly after it. */
  mtime: Timespec;
  /** Time of the last buffered write or truncation (the file's ctime while it is buffered). */
  changed: Timespec;
  /** ctime set by an attribute change after the last write (see Layer.ctime); cleared by a write. */
  ctime?: Timespec;
  dirty: Map<number, Extent[]>;
  dirtyBytes: number;
  layers: Layer[];
  layerBytes: number;
  dropped: boolean;
  pumping?: Promise<void>;
}

export class WriteBuffer {
  readonly files = new Map<number, FileBuffer>();
  private held = 0;
  private reserved = 0;
  private peak = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly bound: number, readonly chunkSize: number) {}

  get bytes(): number {
    return this.held;
  }

  get peakBytes(): number {
    return this.peak;
  }

  /**
   * Wait until `len` more bytes fit under the bound (a write larger than the bound passes alone),
   * asking `relieve` to flush a victim file while they do not; then reserve them.
   */
  async reserve(len: number, relieve: (victim: FileBuffer) => Promise<void>): Promise<void> {
    while (this.held + this.reserved > 0 && this.held + this.reserved + len > this.bound) {
      const victim = this.victim();
      if (victim) await relieve(victim);
      else await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.reserved += len;
  }

  unreserve(len: number): void {
    this.reserved -= len;
    this.wake();
  }

  file(ino: number): FileBuffer | undefined {
    return this.files.get(ino);
  }

  create(ino: number, committedSize: number, mtime: Timespec): FileBuffer {
    const fb: FileBuffer = {
      ino, committedSize, maxEnd: 0, mtime, changed: mtime, dirty: new Map(), dirtyBytes: 0, layers: [], layerBytes: 0, dropped: false,
    };
    this.files.set(ino, fb);
    return fb;
  }

  /** Buffer a write; returns the layers of chunks it made completely dirty (to upload at once). */
  write(fb: FileBuffer, offset: number, data: Uint8Array, now: Timespec): Layer[] {
    const cs = this.chunkSize;
    const full: Layer[] = [];
    fb.ctime = undefined; // a write is newer than any attribute change before it
    for (let pos = 0; pos < data.length;) {
      const chunk = Math.floor((offset + pos) / cs);
      const inChunk = offset + pos - chunk * cs;
      const n = Math.min(cs - inChunk, data.length - pos);
      let list = fb.dirty.get(chunk);
      if (!list) {
        list = [];
        fb.dirty.set(chunk, list);
      }
      const grown = insertExtent(list, inChunk, data.subarray(pos, pos + n), cs);
      fb.dirtyBytes += grown;
      this.hold(grown);
      if (list.length === 1 && list[0].off === 0 && list[0].len === cs) full.push(this.freezeChunk(fb, chunk, now));
      pos += n;
    }
    fb.maxEnd = Math.max(fb.maxEnd, offset + data.length);
    fb.mtime = now;
    fb.changed = now;
    for (const layer of full) layer.mtime = now;
    return full;
  }

  /** Freeze every dirty chunk (in chunk order) into layers. */
  freezeAll(fb: FileBuffer): Layer[] {
    const chunks = [...fb.dirty.keys()].sort((a, b) => a - b);
    return chunks.map((chunk) => this.freezeChunk(fb, chunk, fb.mtime));
  }

  /**
   * An attribute change applied to the MetaStore while data is buffered: every buffered byte
   * commits with the explicitly set `mtime` (if any) and leaves the file's ctime at `ctime`.
   */
  setTimes(fb: FileBuffer, mtime: Timespec | undefined, ctime: Timespec): void {
    if (mtime) fb.mtime = mtime;
    fb.ctime = ctime;
    for (const layer of fb.layers) {
      if (mtime) layer.mtime = mtime;
      layer.ctime = ctime;
    }
  }

  /** Drop buffered bytes at or past `size`; every buffered byte then commits with mtime = ctime = now (as truncate set them). */
  clip(fb: FileBuffer, size: number, now: Timespec): void {
    const cs = this.chunkSize;
    for (const [chunk, list] of fb.dirty) {
      const removed = clipExtents(list, Math.max(0, size - chunk * cs));
      fb.dirtyBytes -= removed;
      this.release(removed);
      if (list.length === 0) fb.dirty.delete(chunk);
    }
    for (const layer of fb.layers) {
      const removed = clipExtents(layer.extents, Math.max(0, size - layer.chunk * cs));
      layer.bytes -= removed;
      fb.layerBytes -= removed;
      this.release(removed);
      layer.mtime = now;
      layer.ctime = undefined;
    }
    fb.maxEnd = Math.min(fb.maxEnd, size);
    fb.mtime = now;
    if (compareTime(fb.changed, now) < 0) fb.changed = now;
    fb.ctime = undefined;
  }

  /**
   * The file is being purged: forget its dirty bytes and cancel layers not yet packed. Layers
   * already packed (their block is being stored) still commit, so their block gets recorded and
   * the purge's ref drop lets GC delete it: never an unrecorded block in the store.
   */
  discard(fb: FileBuffer): void {
    for (const list of fb.dirty.values()) {
      const removed = extentBytes(list);
      fb.dirtyBytes -= removed;
      this.release(removed);
    }
    fb.dirty.clear();
    for (const layer of fb.layers) layer.cancelled = true;
  }

  /** The oldest layer was committed (or discarded): forget it. */
  shiftLayer(fb: FileBuffer): void {
    const layer = fb.layers.shift();
    if (!layer) return;
    fb.layerBytes -= layer.bytes;
    this.release(layer.bytes);
    this.forgetIfEmpty(fb);
  }

  /** Forget everything buffered for an inode. */
  drop(ino: number): FileBuffer | undefined {
    const fb = this.files.get(ino);
    if (!fb) return undefined;
    fb.dropped = true;
    this.release(fb.dirtyBytes + fb.layerBytes);
    fb.dirty.clear();
    fb.dirtyBytes = 0;
    fb.layerBytes = 0;
    this.files.delete(ino);
    return fb;
  }

  /**
   * Buffered bytes of file range [from, to) in overlay order (older first), as (file offset, bytes).
   * Layer bytes are frozen and shared; dirty bytes are copied (they may change in place).
   */
  overlay(fb: FileBuffer, from: number, to: number): Array<{ off: number; data: Buffer }> {
    const cs = this.chunkSize;
    const out: Array<{ off: number; data: Buffer }> = [];
    const inRange = (chunk: number) => chunk * cs < to && (chunk + 1) * cs > from;
    for (const layer of fb.layers) {
      if (!inRange(layer.chunk)) continue;
      const base = layer.chunk * cs;
      for (const ext of layer.extents) {
        const s = Math.max(from - base, ext.off);
        const e = Math.min(to - base, ext.off + ext.len);
        if (s < e) out.push({ off: base + s, data: ext.buf.subarray(s - ext.off, e - ext.off) });
      }
    }
    for (const [chunk, list] of fb.dirty) {
      if (!inRange(chunk)) continue;
      const base = chunk * cs;
      for (const part of copyRange(list, from - base, to - base)) out.push({ off: base + part.off, data: part.data });
    }
    return out;
  }

  pending(ino: number): PendingState | null {
    const fb = this.files.get(ino);
    if (!fb || (fb.dirtyBytes === 0 && fb.layers.length === 0 && fb.dirty.size === 0)) return null;
    return { size: Math.max(fb.committedSize, fb.maxEnd), mtime: fb.mtime, changed: fb.changed, bytes: fb.dirtyBytes + fb.layerBytes };
  }

  forgetIfEmpty(fb: FileBuffer): void {
    if (fb.layers.length === 0 && fb.dirty.size === 0 && this.files.get(fb.ino) === fb) this.files.delete(fb.ino);
  }

  /** The file holding the most buffered bytes (dirty or uploading), to flush under pressure. */
  private victim(): FileBuffer | undefined {
    let best: FileBuffer | undefined;
    for (const fb of this.files.values()) {
      const n = fb.dirtyBytes + fb.layerBytes;
      if (n > 0 && (!best || n > best.dirtyBytes + best.layerBytes)) best = fb;
    }
    return best;
  }

  private freezeChunk(fb: FileBuffer, chunk: number, mtime: Timespec): Layer {
    const list = fb.dirty.get(chunk) ?? [];
    fb.dirty.delete(chunk);
    const bytes = extentBytes(list);
    fb.dirtyBytes -= bytes;
    fb.layerBytes += bytes;
    const layer: Layer = { chunk, extents: list.map((e) => ({ ...e, blockOff: 0 })), bytes, mtime, ctime: fb.ctime };
    fb.layers.push(layer);
    return layer;
  }

  private hold(n: number): void {
    this.held += n;
    if (this.held > this.peak) this.peak = this.held;
  }

  private release(n: number): void {
    if (n === 0) return;
    this.held -= n;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Pack a layer's live extents into one plaintext, setting each extent's blockOff; null if empty. */
export function packLayer(layer: Layer): Buffer | null {
  if (layer.cancelled) return null;
  layer.packed = true;
  const live = layer.extents.filter((e) => e.len > 0);
  if (live.length === 0) return null;
  let blockOff = 0;
  const parts = live.map((e) => {
    e.blockOff = blockOff;
    blockOff += e.len;
    return e.buf.subarray(0, e.len);
  });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, blockOff);
}
