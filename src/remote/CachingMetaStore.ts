import { S_IFDIR, S_IFMT } from '../meta/MetaStore.js';
import type {
  AttrChanges, BlockRecord, ChunkWrite, DirPage, InodeAttr, MetaStats, MetaStore, NewBlock, NewInode, RenameResult, Slice,
  Timespec, UnlinkResult,
} from '../meta/MetaStore.js';
import { FsError } from '../errors.js';
import type { ChangeEvent, RemoteMetaOp } from './protocol.js';
import type { Revalidator } from './Revalidator.js';

/**
 * How long cached metadata is trusted. Changes by other clients arrive as events and drop entries
 * at once, and everything is dropped when the event stream reconnects, so the timeout only bounds
 * staleness while the stream is down (and lets `ls -l` of a big directory, whose per-entry calls
 * follow the listing by seconds, be served from what the listing taught).
 */
export const DEFAULT_META_TTL_MS = 5000;

export interface MetaCacheStats {
  hits: number;
  misses: number;
  attrs: number;
  entries: number;
}

interface Cached<T> {
  value: T;
  expires: number;
}

const MAX_ITEMS = 100_000;

/** What a remote MetaStore offers beyond the MetaStore interface, to save round trips. */
export interface CachingMetaOptions {
  /**
   * A namespace change whose answer also carries the attributes, read right after it, of the
   * directories it changed and of an unlinked inode (RemoteMetaStore.changeWithAttrs): the parent's
   * getattr that follows every create and unlink is then a hit.
   */
  changeWithAttrs?: <T>(op: RemoteMetaOp, args: unknown[]) => Promise<{ result: T; attrs: InodeAttr[] }>;
  /**
   * Record an open of `ino` on the server and return its fresh attributes, in one round trip
   * (RemoteOpenLeases.openWithAttr). The getattr that follows revalidate(ino) — the VFS's
   * close-to-open check of an open — goes through it. null: not offered (an older server).
   */
  openWithAttr?: (ino: number) => Promise<InodeAttr | null>;
}

/**
 * A MetaStore decorator for remote mounts: attributes (getattr) and entries (lookup, including
 * "absent") are cached for `ttlMs`. Every mutation made here drops what it touches (and caches the
 * attributes it returns), a ChangeEvent from the server drops what another client touched, and
 * clear() drops everything (after the event stream reconnected: events may have been missed).
 * readdir pages, slice lists and everything else pass through uncached (a page with attributes
 * fills the attribute and entry caches).
 *
 * A lookup/getattr that was in flight while an invalidation happened does not store its (possibly
 * stale) answer: a generation counter says whether anything was invalidated meanwhile.
 */
export class CachingMetaStore implements MetaStore, Revalidator {
  private readonly attrs = new Map<number, Cached<InodeAttr>>();
  /** key parent/name -> ino, or null when the name is known to be absent. */
  private readonly entries = new Map<string, Cached<number | null>>();
  /** ino -> xattr names known to be absent (ENODATA), with their expiry: the kernel asks for
   * security.capability on every write and ls -l for security.selinux on every entry. */
  private readonly absentXattrs = new Map<number, Map<string, number>>();
  /** ino -> every xattr name it has (from a directory page), with its expiry. */
  private readonly knownXattrs = new Map<number, Cached<Set<string>>>();
  /**
   * Directories whose every entry is in `entries` (ino -> expiry): one this client just made (empty)
   * or listed whole in one page. A name not in `entries` is then absent without asking — the
   * kernel's LOOKUP before each CREATE of a new name. Dropped with any entry of the directory that
   * is forgotten rather than learned (another client's change, a rename, a failed create).
   */
  private readonly complete = new Map<number, number>();
  /** Inodes being opened: their next getattr revalidates through opts.openWithAttr. */
  private readonly opening = new Set<number>();
  private generation = 0;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly inner: MetaStore,
    private readonly ttlMs = DEFAULT_META_TTL_MS,
    private readonly opts: CachingMetaOptions = {},
  ) {}

  // ---- invalidation ----

  /** The VFS opens `ino` and wants fresh attributes (close-to-open): drop them, fetch them with the open. */
  revalidate(ino: number): void {
    this.dropInode(ino);
    if (this.opts.openWithAttr) {
      if (this.opening.size >= MAX_ITEMS) this.opening.clear();
      this.opening.add(ino);
    }
  }

  dropInode(ino: number): void {
    this.generation++;
    this.attrs.delete(ino);
    this.absentXattrs.delete(ino);
    this.knownXattrs.delete(ino);
  }

  dropEntry(parent: number, name: string): void {
    this.generation++;
    this.entries.delete(key(parent, name));
    this.complete.delete(parent);
  }

  clear(): void {
    this.generation++;
    this.opening.clear();
    this.complete.clear();
    this.attrs.clear();
    this.entries.clear();
    this.absentXattrs.clear();
    this.knownXattrs.clear();
  }

  apply(event: ChangeEvent): void {
    this.generation++;
    for (const ino of event.inos) {
      this.attrs.delete(ino);
      this.absentXattrs.delete(ino);
      this.knownXattrs.delete(ino);
    }
    for (const ino of event.data) this.attrs.delete(ino);
    for (const e of event.entries) {
      this.entries.delete(key(e.parent, e.name));
      this.complete.delete(e.parent);
    }
  }

  cacheStats(): MetaCacheStats {
    return { hits: this.hits, misses: this.misses, attrs: this.attrs.size, entries: this.entries.size };
  }

  // ---- cached reads ----

  async getattr(ino: number): Promise<InodeAttr> {
    const opening = this.opening.delete(ino);
    const hit = this.fresh(this.attrs.get(ino));
    if (hit) {
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const gen = this.generation;
    const attr = (opening && (await this.opts.openWithAttr?.(ino))) || (await this.inner.getattr(ino));
    if (gen === this.generation) this.putAttr(attr);
    return attr;
  }

  async lookup(parent: number, name: string): Promise<InodeAttr | null> {
    const cached = this.entries.get(key(parent, name));
    const entry = this.fresh(cached);
    if (entry) {
      if (entry.value === null) {
        this.hits++;
        return null;
      }
      const attr = this.fresh(this.attrs.get(entry.value));
      if (attr) {
        this.hits++;
        return attr.value;
      }
    } else if ((cached === undefined || cached.value === null) && (this.complete.get(parent) ?? 0) > Date.now()) {
      // (an expired positive entry is not evidence of absence: ask)
      this.hits++;
      return null;
    }
    this.misses++;
    const gen = this.generation;
    const attr = await this.inner.lookup(parent, name);
    if (gen === this.generation) {
      this.putEntry(parent, name, attr?.ino ?? null);
      if (attr) this.putAttr(attr);
    }
    return attr;
  }

  /**
   * Pages are not cached, but a page with attributes teaches the attribute and entry caches, so
   * the lookups that follow a READDIRPLUS (or `ls -l`) of those names are hits.
   */
  async readdir(dir: number, cursor: string | null, limit: number, withAttrs?: boolean): Promise<DirPage> {
    if (this.ttlMs <= 0) return this.inner.readdir(dir, cursor, limit, withAttrs);
    // Pages are always fetched with attributes when caching: after a plain READDIR the kernel
    // looks every entry up, and those lookups should not each cost a round trip.
    const page = await this.readdirTeaching(dir, cursor, limit);
    return { ...page, entries: page.entries.map(({ attr, xattrs: _xattrs, ...e }) => (withAttrs ? { ...e, attr } : e)) };
  }

  private async readdirTeaching(dir: number, cursor: string | null, limit: number): Promise<DirPage> {
    const gen = this.generation;
    const page = await this.inner.readdir(dir, cursor, limit, true);
    if (gen === this.generation) {
      let all = cursor === null && page.next === null;
      for (const e of page.entries) {
        if (!e.attr) {
          all = false;
          continue;
        }
        this.putEntry(dir, e.name, e.ino);
        this.putAttr(e.attr);
        if (e.xattrs) this.putKnownXattrs(e.ino, e.xattrs);
      }
      if (all) this.putComplete(dir);
    }
    return page;
  }

  // ---- mutations: pass through, then forget (or learn) what they touched ----

  async create(parent: number, name: string, node: NewInode): Promise<InodeAttr> {
    const gen = this.generation;
    let attr: InodeAttr;
    let attrs: InodeAttr[];
    try {
      ({ result: attr, attrs } = await this.change('create', [parent, name, node], () => this.inner.create(parent, name, node)));
    } catch (err) {
      this.forget([parent], [[parent, name]]);
      throw err;
    }
    const learn = gen === this.generation;
    this.dropInode(parent);
    this.putEntry(parent, name, attr.ino);
    this.putAttr(attr);
    if (learn) {
      this.putKnownXattrs(attr.ino, []); // a new inode has no xattrs: the kernel's getxattr on its first write is a hit
      this.putAttrs(attrs);
      if ((attr.mode & S_IFMT) === S_IFDIR) this.putComplete(attr.ino); // and a new directory no entries
    }
    return attr;
  }

  async link(ino: number, newParent: number, newName: string, now: Timespec): Promise<InodeAttr> {
    this.forget([ino, newParent], [[newParent, newName]]);
    const gen = this.generation;
    const { result: attr, attrs } = await this.change('link', [ino, newParent, newName, now], () => this.inner.link(ino, newParent, newName, now));
    const learn = gen === this.generation;
    this.forget([ino, newParent], [[newParent, newName]]);
    this.putAttr(attr);
    if (learn) this.putAttrs(attrs);
    return attr;
  }

  async unlink(parent: number, name: string, now: Timespec): Promise<UnlinkResult> {
    const known = this.entries.get(key(parent, name))?.value;
    const gen = this.generation;
    let res: UnlinkResult;
    let attrs: InodeAttr[];
    try {
      ({ result: res, attrs } = await this.change('unlink', [parent, name, now], () => this.inner.unlink(parent, name, now)));
    } catch (err) {
      this.forget(known ? [parent, known] : [parent], [[parent, name]], true);
      throw err;
    }
    const learn = gen === this.generation;
    this.forget(known ? [parent, res.ino, known] : [parent, res.ino], []);
    this.putEntry(parent, name, null); // learned: the directory stays complete
    // The parent and the victim as they are now (nlink 0 when it was the last name): the VFS's
    // next getattr of the parent and its purge check of the victim need no round trip.
    if (learn) this.putAttrs(attrs);
    return res;
  }

  async rmdir(parent: number, name: string, now: Timespec): Promise<void> {
    const known = this.entries.get(key(parent, name))?.value;
    const gen = this.generation;
    let attrs: InodeAttr[] = [];
    try {
      ({ attrs } = await this.change<void>('rmdir', [parent, name, now], () => this.inner.rmdir(parent, name, now)));
    } finally {
      const learn = gen === this.generation;
      this.forget(known ? [parent, known] : [parent], [[parent, name]]);
      if (learn) this.putAttrs(attrs);
    }
  }

  async rename(parent: number, name: string, newParent: number, newName: string, flags: number, now: Timespec): Promise<RenameResult> {
    const moved = [this.entries.get(key(parent, name))?.value, this.entries.get(key(newParent, newName))?.value];
    const gen = this.generation;
    let attrs: InodeAttr[] = [];
    try {
      const out = await this.change('rename', [parent, name, newParent, newName, flags, now], () =>
        this.inner.rename(parent, name, newParent, newName, flags, now));
      attrs = out.attrs;
      if (out.result.replaced) this.dropInode(out.result.replaced.ino);
      return out.result;
    } finally {
      const learn = gen === this.generation;
      const inos = [parent, newParent, ...moved.filter((i): i is number => typeof i === 'number')];
      this.forget(inos, [[parent, name], [newParent, newName]]);
      if (learn) this.putAttrs(attrs);
    }
  }

  setattr(ino: number, changes: AttrChanges): Promise<InodeAttr> {
    return this.learn(ino, () => this.inner.setattr(ino, changes));
  }

  truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr> {
    return this.learn(ino, () => this.inner.truncate(ino, size, now));
  }

  commitSlices(ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime?: Timespec): Promise<InodeAttr> {
    return this.learn(ino, () => this.inner.commitSlices(ino, writes, newBlocks, minSize, mtime, ctime));
  }

  async replaceChunk(ino: number, chunk: number, expectedCount: number, slices: Slice[], newBlocks: NewBlock[]): Promise<boolean> {
    try {
      return await this.inner.replaceChunk(ino, chunk, expectedCount, slices, newBlocks);
    } finally {
      this.dropInode(ino); // allocated bytes change
    }
  }

  async purgeInode(ino: number): Promise<void> {
    try {
      await this.inner.purgeInode(ino);
    } finally {
      this.dropInode(ino);
    }
  }

  async setxattr(ino: number, name: string, value: Buffer, flags: number, now: Timespec): Promise<void> {
    try {
      await this.inner.setxattr(ino, name, value, flags, now);
    } finally {
      this.dropInode(ino);
    }
  }

  async removexattr(ino: number, name: string, now: Timespec): Promise<void> {
    try {
      await this.inner.removexattr(ino, name, now);
    } finally {
      this.dropInode(ino);
    }
  }

  // ---- uncached pass-through ----

  init(root: { mode: number; uid: number; gid: number; now: Timespec }): Promise<void> {
    return this.inner.init(root);
  }
  close(): Promise<void> {
    this.clear();
    return this.inner.close();
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  getSetting(k: string): Promise<string | null> {
    return this.inner.getSetting(k);
  }
  setSetting(k: string, v: string): Promise<void> {
    return this.inner.setSetting(k, v);
  }
  pathOf(ino: number): Promise<string | null> {
    return this.inner.pathOf(ino);
  }
  isAncestor(a: number, ino: number): Promise<boolean> {
    return this.inner.isAncestor(a, ino);
  }
  readlink(ino: number): Promise<string> {
    return this.inner.readlink(ino);
  }
  listOrphans(): Promise<number[]> {
    return this.inner.listOrphans();
  }
  async getxattr(ino: number, name: string): Promise<Buffer> {
    const absentUntil = this.absentXattrs.get(ino)?.get(name);
    const known = this.fresh(this.knownXattrs.get(ino));
    if ((absentUntil !== undefined && absentUntil > Date.now()) || (known && !known.value.has(name))) {
      this.hits++;
      throw new FsError('ENODATA', `inode ${ino} has no xattr ${name}`);
    }
    this.misses++;
    const gen = this.generation;
    try {
      return await this.inner.getxattr(ino, name);
    } catch (err) {
      if (err instanceof FsError && err.code === 'ENODATA' && gen === this.generation && this.ttlMs > 0) {
        if (this.absentXattrs.size >= MAX_ITEMS) this.absentXattrs.clear();
        let names = this.absentXattrs.get(ino);
        if (!names) this.absentXattrs.set(ino, (names = new Map()));
        names.set(name, Date.now() + this.ttlMs);
      }
      throw err;
    }
  }
  async listxattr(ino: number): Promise<string[]> {
    const known = this.fresh(this.knownXattrs.get(ino));
    if (known) {
      this.hits++;
      return [...known.value];
    }
    return this.inner.listxattr(ino);
  }
  readChunks(ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    return this.inner.readChunks(ino, first, last);
  }
  getBlock(id: string): Promise<BlockRecord | null> {
    return this.inner.getBlock(id);
  }
  unreferencedBlocks(olderThanMs: number, limit: number): Promise<string[]> {
    return this.inner.unreferencedBlocks(olderThanMs, limit);
  }
  forgetBlocks(ids: string[]): Promise<string[]> {
    return this.inner.forgetBlocks(ids);
  }
  listBlocks(cursor: string | null, limit: number): Promise<{ blocks: BlockRecord[]; next: string | null }> {
    return this.inner.listBlocks(cursor, limit);
  }
  inodesUsingBlock(id: string): Promise<number[]> {
    return this.inner.inodesUsingBlock(id);
  }
  stats(): Promise<MetaStats> {
    return this.inner.stats();
  }
  check(): Promise<string[]> {
    return this.inner.check();
  }

  // ---- internals ----

  /** A namespace change through opts.changeWithAttrs when the inner store offers it. */
  private async change<T>(op: RemoteMetaOp, args: unknown[], plain: () => Promise<T>): Promise<{ result: T; attrs: InodeAttr[] }> {
    if (this.opts.changeWithAttrs && this.ttlMs > 0) return this.opts.changeWithAttrs<T>(op, args);
    return { result: await plain(), attrs: [] };
  }

  private putAttrs(list: InodeAttr[]): void {
    for (const a of list) this.putAttr(a);
  }

  private async learn(ino: number, fn: () => Promise<InodeAttr>): Promise<InodeAttr> {
    this.dropInode(ino);
    try {
      const attr = await fn();
      this.dropInode(ino);
      this.putAttr(attr);
      return attr;
    } catch (err) {
      this.dropInode(ino);
      throw err;
    }
  }

  /** Drop attributes and entries; `keepNegative` keeps a just-learned "absent" entry. */
  private forget(inos: number[], entries: Array<[number, string]>, keepNegative = false): void {
    this.generation++;
    for (const ino of inos) this.attrs.delete(ino);
    for (const [p, n] of entries) {
      const k = key(p, n);
      if (keepNegative && this.entries.get(k)?.value === null) continue;
      this.entries.delete(k);
      this.complete.delete(p);
    }
  }

  private fresh<T>(c: Cached<T> | undefined): Cached<T> | undefined {
    return c && c.expires > Date.now() ? c : undefined;
  }

  private putKnownXattrs(ino: number, names: string[]): void {
    if (this.ttlMs <= 0) return;
    if (this.knownXattrs.size >= MAX_ITEMS) this.knownXattrs.clear();
    this.knownXattrs.set(ino, { value: new Set(names), expires: Date.now() + this.ttlMs });
  }

  private putAttr(attr: InodeAttr): void {
    if (this.ttlMs <= 0) return;
    if (this.attrs.size >= MAX_ITEMS) this.attrs.clear();
    this.attrs.set(attr.ino, { value: attr, expires: Date.now() + this.ttlMs });
  }

  /** Every entry of `dir` was just put (or it has none): expires with them. */
  private putComplete(dir: number): void {
    if (this.ttlMs <= 0) return;
    if (this.complete.size >= MAX_ITEMS) this.complete.clear();
    this.complete.set(dir, Date.now() + this.ttlMs);
  }

  private putEntry(parent: number, name: string, ino: number | null): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= MAX_ITEMS) {
      this.entries.clear();
      this.complete.clear();
    }
    this.entries.set(key(parent, name), { value: ino, expires: Date.now() + this.ttlMs });
  }
}

function key(parent: number, name: string): string {
  return `${parent}/${name}`;
}
