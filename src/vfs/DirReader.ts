import type { DirPage, MetaStore } from '../meta/MetaStore.js';
import type { ReaddirEntry } from './types.js';

/** Most entries asked of the MetaStore at once. */
const PAGE = 1024;
/** Resume points remembered per open directory (positions a reader may come back to). */
const KEEP_CURSORS = 32;
const DONE = Symbol('done');
type Cursor = string | null | typeof DONE;

interface DotEntry {
  ino: number;
  mode: number;
}

/**
 * One open directory's listing with stable offsets: offset 0 is the start, '.' is followed by
 * offset 1, '..' by 2, and the k-th stored entry (k from 1) by k + 2. The MetaStore cursor for
 * recent positions is remembered so a reader resuming at the offset it was given continues
 * without rescanning; an unknown offset (seekdir back) rescans page by page from the nearest
 * known position. Never holds more than one page of entries. Assumes a MetaStore page holds
 * at most `limit` entries.
 */
export class DirReader {
  /** Number of stored entries consumed -> MetaStore cursor to continue after them. */
  private readonly cursors = new Map<number, Cursor>([[0, null]]);

  constructor(
    private readonly meta: MetaStore,
    readonly ino: number,
    private readonly self: DotEntry,
    private readonly parent: DotEntry,
  ) {}

  /** `withAttrs`: stored entries carry their attributes (fetched with the page, one MetaStore call). */
  async read(offset: number, limit: number, withAttrs = false): Promise<ReaddirEntry[]> {
    const out: ReaddirEntry[] = [];
    if (limit <= 0) return out;
    if (offset === 0) out.push({ name: '.', ino: this.self.ino, mode: this.self.mode, next: 1 });
    if (offset <= 1 && out.length < limit) out.push({ name: '..', ino: this.parent.ino, mode: this.parent.mode, next: 2 });
    let k = Math.max(offset - 2, 0);
    let cursor = await this.cursorAt(k);
    while (out.length < limit && cursor !== DONE) {
      const page = await this.meta.readdir(this.ino, cursor, Math.min(limit - out.length, PAGE), withAttrs);
      for (const e of page.entries) {
        k++;
        const entry: ReaddirEntry = { name: e.name, ino: e.ino, mode: e.mode, next: k + 2 };
        if (e.attr) entry.attr = e.attr;
        out.push(entry);
      }
      cursor = nextCursor(page);
      this.remember(k, cursor);
    }
    return out;
  }

  private remember(k: number, cursor: Cursor): void {
    this.cursors.delete(k);
    this.cursors.set(k, cursor);
    if (this.cursors.size > KEEP_CURSORS) {
      for (const key of this.cursors.keys()) {
        if (key !== 0) { this.cursors.delete(key); break; }
      }
    }
  }

  /** The cursor after k stored entries (DONE if the directory has no more than k). */
  private async cursorAt(k: number): Promise<Cursor> {
    const known = this.cursors.get(k);
    if (known !== undefined) return known;
    let at = 0;
    for (const key of this.cursors.keys()) if (key <= k && key > at) at = key;
    let cursor = this.cursors.get(at) as Cursor;
    while (at < k && cursor !== DONE) {
      const page = await this.meta.readdir(this.ino, cursor, Math.min(k - at, PAGE));
      at += page.entries.length;
      cursor = nextCursor(page);
    }
    if (at < k) cursor = DONE;
    this.remember(k, cursor);
    return cursor;
  }
}

/** A page's continuation; an empty page that claims more is treated as the end (no endless loop). */
function nextCursor(page: DirPage): Cursor {
  return page.next === null || page.entries.length === 0 ? DONE : page.next;
}
