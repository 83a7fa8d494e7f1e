/**
 * The FUSE adapter on mosaicfs's own kernel binding (src/fuse/kernel/): FUSE requests -> VfsApi
 * calls, inode for inode, with the caller's real uid/gid/pid (and supplementary groups from
 * /proc/<pid>/status), nanosecond times, rename flags, fallocate and lseek. Handles are the VFS's
 * own (the fh the kernel gets is the VFS handle), so no table sits in between.
 *
 * Not the default binding: FuseNativeAdapter is. Lifecycle: mount() resolves once the kernel
 * finished INIT; `unmounted` resolves when the kernel ends the connection (unmount() or an
 * external `fusermount3 -u`), so a daemon can exit by itself. The VFS stays the caller's to shut down.
 */
import { constants } from 'node:fs';
import { FsError } from '../errors.js';
import { S_IFDIR, S_IFREG } from '../meta/MetaStore.js';
import type { CacheInvalidator } from '../vfs/OpenLeases.js';
import { O_ACCMODE } from '../vfs/handles.js';
import type { Ctx, InodeAttr, SetAttr, VfsApi } from '../vfs/types.js';
import { Op, SEEK_DATA, SEEK_HOLE } from './kernel/abi.js';
import { CallerGroups } from './kernel/callerGroups.js';
import { FuseSession } from './kernel/FuseSession.js';
import { mountFuse, unmountFuse } from './kernel/mount.js';
import type { FuseOps, FuseRequest, Opened, SetattrIn } from './kernel/ops.js';
import { ReadStore, type StorePlan } from './kernel/readStore.js';
import { resolveDefaultPermissions, type MountOptions } from './mountOptions.js';
import { fuseStatsEnabled, OpStats } from './opStats.js';

export interface KernelFuseAdapterOptions {
  vfs: VfsApi;
  mountpoint: string;
  options: MountOptions;
  /** Called with the byte size of every WRITE request the kernel sends (tests, statistics). */
  onWrite?: (size: number) => void;
}

export class KernelFuseAdapter implements CacheInvalidator {
  private readonly vfs: VfsApi;
  private readonly mountpoint: string;
  private readonly options: MountOptions;
  private readonly onWrite?: (size: number) => void;
  private readonly groups = new CallerGroups();
  /** size:mtime of each file when it was last released, to keep its page cache if unchanged. */
  private readonly cacheKeys = new Map<number, string>();
  /**
   * RELEASEs of handles that may have changed their file, per inode, until their cache key is
   * remembered. The kernel sends RELEASE in the background after close() returns, so the next
   * open() of the file (cp, a read after a write) can reach us while it is still running: that
   * OPEN waits for it before deciding keep_cache, or it drops the page cache it could keep.
   */
  private readonly releasing = new Map<number, Promise<void>>();
  /**
   * READDIRPLUS: the session asks lookup(req, dir, name) for each entry of the page it got from
   * readdir(req, ...). The attributes that came with the page are kept here per request, so those
   * lookups are answered without going back to the VFS. The session still counts each entry reply
   * as one kernel lookup (nlookup), exactly as for a real lookup.
   */
  private readonly pageAttrs = new WeakMap<FuseRequest, Map<string, InodeAttr>>();
  /** -o read_store: page-cache stores after READs (null when off or before mount). */
  private readStore: ReadStore | null = null;
  /** READs that read their whole window: what to store once the reply is out. */
  private readonly windowReads = new WeakMap<FuseRequest, { plan: StorePlan; data: Buffer }>();
  /** Open handles that may change their file (writable or O_TRUNC), and direct-I/O handles: fh -> ino. */
  private readonly writableHandles = new Map<number, number>();
  private readonly directIoHandles = new Set<number>();
  private session: FuseSession | null = null;
  private gone = false;
  private resolveUnmounted!: () => void;
  /** Resolves when the kernel has ended the connection (the mount is gone). */
  readonly unmounted: Promise<void>;

  constructor(opts: KernelFuseAdapterOptions) {
    this.vfs = opts.vfs;
    this.mountpoint = opts.mountpoint;
    this.options = opts.options;
    this.onWrite = opts.onWrite;
    this.unmounted = new Promise((resolve) => { this.resolveUnmounted = resolve; });
  }

  /** Mount; resolves when the kernel has initialised the connection. */
  async mount(): Promise<void> {
    if (this.session) throw new Error('already mounted');
    const o = this.options;
    const fd = mountFuse(this.mountpoint, {
      fsname: o.fsname, subtype: 'mosaicfs', allowOther: o.allowOther, readonly: o.readonly,
      defaultPermissions: resolveDefaultPermissions(o, process.getuid?.() ?? -1),
    });
    const stats = fuseStatsEnabled() ? new OpStats() : undefined;
    const session = new FuseSession(fd, this.operations(), {
      entryTimeout: o.entryTimeout, attrTimeout: o.attrTimeout, negativeTimeout: o.negativeTimeout, onWrite: this.onWrite, stats,
    });
    this.session = session;
    stats?.printAtExit(() => {
      const n = session.notifications;
      return [`  notifications sent ${n.sent}, ignored ${n.ignored}; page-cache stores written ${n.stored}, dropped ${n.storesDropped}`];
    });
    if (o.readStore) this.readStore = new ReadStore(session.notifications);
    void session.closed.then(() => {
      this.gone = true;
      this.resolveUnmounted();
    });
    session.start();
    try {
      await session.ready;
    } catch (err) {
      await unmountFuse(this.mountpoint).catch(() => {});
      session.close();
      throw err;
    }
  }

  /** Detach the mount and wait until the kernel has closed the connection. */
  async unmount(): Promise<void> {
    if (!this.session || this.gone) return;
    await unmountFuse(this.mountpoint);
    await this.unmounted;
  }

  /** CacheInvalidator: the kernel forgets the attributes and cached pages of `ino` (queued, never blocks). */
  inode(ino: number): void {
    this.cacheKeys.delete(ino);
    this.readStore?.bump(ino);
    if (!this.gone) this.session?.invalidateInode(ino);
  }

  /** CacheInvalidator: the kernel forgets its lookup of `name` in `parent` (queued, never blocks). */
  entry(parent: number, name: string): void {
    if (!this.gone) this.session?.invalidateEntry(parent, name);
  }

  /** Page-cache stores (-o read_store) written to the kernel, and dropped (stale or queue full). */
  get pageStores(): { stored: number; dropped: number } {
    const n = this.session?.notifications;
    return { stored: n?.stored ?? 0, dropped: n?.storesDropped ?? 0 };
  }

  /** Resolves once every queued invalidation has reached the kernel (tests). */
  invalidationsDone(): Promise<void> {
    return this.session?.notifications.idle() ?? Promise.resolve();
  }

  private ctx(req: FuseRequest): Ctx {
    return { uid: req.uid, gid: req.gid, pid: req.pid, groups: this.groups.of(req.pid) };
  }

  private operations(): FuseOps {
    const { vfs } = this;
    const ctx = (req: FuseRequest) => this.ctx(req);
    return {
      lookup: (req, parent, name) => {
        const fromPage = parent === req.nodeid ? this.pageAttrs.get(req)?.get(name) : undefined;
        return fromPage ? Promise.resolve(fromPage) : vfs.lookup(ctx(req), parent, name);
      },
      forget: (ino) => {
        this.cacheKeys.delete(ino);
        this.readStore?.forget(ino);
      },
      getattr: (req, ino) => vfs.getattr(ctx(req), ino),
      setattr: (req, ino, set) => {
        const c = ctx(req);
        const s = toSetAttr(set);
        if (Object.keys(s).length === 0) return vfs.getattr(c, ino);
        if (s.size !== undefined && this.readStore) return this.readStore.changing(ino).then(() => vfs.setattr(c, ino, s, set.fh));
        return vfs.setattr(c, ino, s, set.fh);
      },
      readlink: (req, ino) => vfs.readlink(ctx(req), ino),
      symlink: (req, parent, name, target) => vfs.symlink(ctx(req), parent, name, target),
      mknod: (req, parent, name, mode, rdev) => vfs.mknod(ctx(req), parent, name, mode, rdev),
      mkdir: (req, parent, name, mode) => vfs.mkdir(ctx(req), parent, name, S_IFDIR | (mode & 0o7777)),
      unlink: (req, parent, name) => vfs.unlink(ctx(req), parent, name),
      rmdir: (req, parent, name) => vfs.rmdir(ctx(req), parent, name),
      rename: (req, parent, name, newParent, newName, flags) => vfs.rename(ctx(req), parent, name, newParent, newName, flags),
      link: (req, ino, newParent, newName) => vfs.link(ctx(req), ino, newParent, newName),
      open: async (req, ino, flags) => {
        const changes = mayChange(flags);
        if (changes) await this.readStore?.openingWritable(ino);
        let r: Awaited<ReturnType<VfsApi['open']>>;
        try {
          r = await vfs.open(ctx(req), ino, flags);
        } catch (err) {
          if (changes) this.readStore?.releasedWritable(ino);
          throw err;
        }
        await this.releasing.get(ino);
        if (changes) this.writableHandles.set(r.fh, ino);
        // A VFS wrapper may serve generated files (src/vfs/ControlFolder.ts) that must bypass the page cache.
        if ((r as { directIo?: boolean }).directIo) {
          this.directIoHandles.add(r.fh);
          return { fh: r.fh, directIo: true };
        }
        // A handle that cannot change the file has nothing to flush at close: FLUSH would only
        // commit other handles' buffered writes, which their own close does (locks are the kernel's).
        // In write-back mode (r.noFlush) RELEASE does all a FLUSH would, so close(2) needs no request.
        return { fh: r.fh, keepCache: this.keepCache(r.attr), noFlush: !changes || r.noFlush === true };
      },
      create: async (req, parent, name, mode, flags) => {
        const r = await vfs.create(ctx(req), parent, name, S_IFREG | (mode & 0o7777), flags);
        if (mayChange(flags)) {
          // A new inode: nothing of it can be in flight, so no wait; the handle blocks stores until released.
          void this.readStore?.openingWritable(r.attr.ino);
          this.writableHandles.set(r.fh, r.attr.ino);
        }
        return { fh: r.fh, attr: r.attr, noFlush: r.noFlush === true };
      },
      read: async (req, ino, fh, offset, size) => {
        const plan = this.directIoHandles.has(fh) ? null : this.readStore?.plan(ino, offset, size);
        if (!plan) return vfs.read(ctx(req), fh, offset, size);
        // A failure outside the asked range (e.g. a bad segment) must not fail this READ: read plainly then.
        const window = await vfs.read(ctx(req), fh, plan.start, plan.length).catch(() => null);
        if (!window) return vfs.read(ctx(req), fh, offset, size);
        const from = offset - plan.start;
        // Nothing at `offset`: end of file, or a bad segment before it (the plain read may then be
        // EIO, not empty); the plain read answers both exactly as without stores. A window that
        // ends inside the asked range (end of file, or a bad segment: a short read) is answered
        // short, as the plain read would be.
        if (window.length <= from) return vfs.read(ctx(req), fh, offset, size);
        const reply = window.subarray(from, from + size);
        if (from > 0 || window.length > from + size) this.windowReads.set(req, { plan, data: window });
        return reply;
      },
      readReplied: (req, ino) => {
        const w = this.windowReads.get(req);
        if (w) this.readStore?.replied(ino, w.plan, w.data);
      },
      // The data layer copies what it buffers before write() resolves (src/data/extents.ts), and
      // the session keeps the request buffer out of reuse until then.
      write: (req, ino, fh, offset, data) => {
        this.readStore?.bump(ino);
        return vfs.write(ctx(req), fh, offset, data);
      },
      flush: (req, _ino, fh) => vfs.flush(ctx(req), fh),
      release: (req, ino, fh) => {
        const writable = this.writableHandles.has(fh);
        const released = this.release(ctx(req), ino, fh);
        if (writable && this.options.autoCache) {
          const settled = released.catch(() => undefined);
          this.releasing.set(ino, settled);
          void settled.then(() => {
            if (this.releasing.get(ino) === settled) this.releasing.delete(ino);
          });
        }
        return released;
      },
      fsync: (req, _ino, fh, datasync) => vfs.fsync(ctx(req), fh, datasync),
      fallocate: (req, ino, fh, offset, length, mode) => {
        this.readStore?.bump(ino);
        return vfs.fallocate(ctx(req), fh, mode, offset, length);
      },
      lseek: async (req, ino, _fh, offset, whence) => {
        // No holes are tracked per file: data everywhere up to the size, one hole at the end.
        if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw new FsError('EINVAL', `lseek whence ${whence}`);
        const { size } = await vfs.getattr(ctx(req), ino);
        if (offset >= size) throw new FsError('ENXIO', 'lseek beyond the end of the file');
        return whence === SEEK_DATA ? offset : size;
      },
      opendir: async (req, ino): Promise<Opened> => ({ fh: await vfs.opendir(ctx(req), ino) }),
      readdir: async (req, _ino, fh, offset, limit) => {
        const plus = req.opcode === Op.READDIRPLUS;
        const entries = await vfs.readdir(ctx(req), fh, offset, limit, plus);
        if (plus) {
          const attrs = new Map<string, InodeAttr>();
          for (const e of entries) if (e.attr) attrs.set(e.name, e.attr);
          if (attrs.size > 0) this.pageAttrs.set(req, attrs);
        }
        return entries;
      },
      releasedir: (req, _ino, fh) => vfs.releasedir(ctx(req), fh),
      fsyncdir: (req, _ino, fh, datasync) => vfs.fsyncdir(ctx(req), fh, datasync),
      statfs: (req) => vfs.statfs(ctx(req)),
      access: (req, ino, mask) => vfs.access(ctx(req), ino, mask),
      setxattr: (req, ino, name, value, flags) => vfs.setxattr(ctx(req), ino, name, value, flags),
      getxattr: (req, ino, name) => vfs.getxattr(ctx(req), ino, name),
      listxattr: (req, ino) => vfs.listxattr(ctx(req), ino),
      removexattr: (req, ino, name) => vfs.removexattr(ctx(req), ino, name),
    };
  }

  private async release(c: Ctx, ino: number, fh: number): Promise<void> {
    this.directIoHandles.delete(fh);
    const writable = this.writableHandles.get(fh);
    try {
      await this.vfs.release(c, fh);
    } finally {
      if (writable !== undefined) {
        this.writableHandles.delete(fh);
        this.readStore?.bump(writable);
        this.readStore?.releasedWritable(writable);
      }
    }
    if (this.options.autoCache) await this.rememberCacheKey(c, ino);
  }

  /** kernel_cache: always keep the page cache; auto_cache: keep it while size and mtime are unchanged. */
  private keepCache(attr: InodeAttr): boolean {
    if (this.options.kernelCache) return true;
    return this.options.autoCache && this.cacheKeys.get(attr.ino) === cacheKey(attr);
  }

  private async rememberCacheKey(ctx: Ctx, ino: number): Promise<void> {
    try {
      this.cacheKeys.set(ino, cacheKey(await this.vfs.getattr(ctx, ino)));
    } catch {
      this.cacheKeys.delete(ino); // unlinked and purged: nothing to keep
    }
  }
}

/** Open flags that let a handle change the file: a writable access mode, or O_TRUNC. */
function mayChange(flags: number): boolean {
  return (flags & O_ACCMODE) !== constants.O_RDONLY || (flags & constants.O_TRUNC) !== 0;
}

function cacheKey(a: InodeAttr): string {
  return `${a.size}:${a.mtime.sec}:${a.mtime.nsec}`;
}

/** The kernel's SETATTR -> the VFS's SetAttr (ctime is the VFS's to set; fh travels separately). */
function toSetAttr(set: SetattrIn): SetAttr {
  const s: SetAttr = {};
  if (set.mode !== undefined) s.mode = set.mode & 0o7777;
  if (set.uid !== undefined) s.uid = set.uid;
  if (set.gid !== undefined) s.gid = set.gid;
  if (set.size !== undefined) s.size = set.size;
  if (set.atime !== undefined) s.atime = set.atime;
  if (set.mtime !== undefined) s.mtime = set.mtime;
  return s;
}
