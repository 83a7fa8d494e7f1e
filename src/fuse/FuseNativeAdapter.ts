/**
 * The FUSE adapter: fuse-native (libfuse2 high-level, path-based) operations -> VfsApi calls.
 *
 * What libfuse2/fuse-native cannot carry, and what we do about it:
 * - The caller's uid/gid never reach us. Every VFS call runs as the daemon's own uid/gid (root for
 *   a root mount, like sshfs/rclone do for a user mount); the kernel enforces permissions from our
 *   attributes because we mount with default_permissions unless told otherwise.
 * - utimens: stock fuse-native passes the atime in BOTH slots and rounds UTIME_NOW/UTIME_OMIT to the
 *   same 1073 ms; scripts/patch-fuse-native.mjs (run at npm install) fixes both, and utimens.ts
 *   decodes the sentinels, so `touch -a`, `touch -m`, `cp -p` and `tar` keep the right times.
 * - Times are milliseconds; rename has no flags (no RENAME_NOREPLACE/EXCHANGE); create gets no
 *   open flags (we open the new file read-write; the kernel enforces the caller's access mode).
 * - readdir gets no handle or offset: we list the whole directory in pages and hand libfuse all
 *   names at once; opendir only checks that the path is a directory.
 * - Unlinking an open file arrives as libfuse2's rename to .fuse_hiddenNNN (no hard_remove: see
 *   HidingPathResolver for why); we unlink for real and map the hidden path to the inode.
 * - fd operations (read, write, flush, fsync, release, ftruncate, fgetattr) work from the fd alone;
 *   with flag_nullpath_ok (patched fuse-native) libfuse2 passes '' for a file it has no path for.
 *   Any other operation with path '' answers ENOENT: '' must never resolve (it would walk to the root).
 */
import { errnoOf, isFsError, toErrno, FsError } from '../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import type { Ctx, SetAttr, VfsApi } from '../vfs/types.js';
import { HandleTable } from './HandleTable.js';
import { fuseOptionList, type MountOptions } from './mountOptions.js';
import { MosaicFuse, type FuseOperations } from './MosaicFuse.js';
import { countedUntilExit, fuseStatsEnabled } from './opStats.js';
import { HidingPathResolver, isHiddenPath } from './HidingPathResolver.js';
import { direntStat, toFuseStat, toFuseStatfs, type FuseStat } from './stat.js';
import { decodeUtimensArg } from './utimens.js';

type ErrCb = (err: number) => void;
type ValCb<T> = (err: number, value?: T) => void;

/** chown's "leave unchanged" (-1) as the unsigned 32-bit number fuse-native passes. */
const UNCHANGED_ID = 0xffffffff;
const O_RDWR = 2;
const O_CREAT = 0o100;
const READDIR_PAGE = 4096;

export interface FuseAdapterOptions {
  vfs: VfsApi;
  mountpoint: string;
  options: MountOptions;
  /** Who every VFS call runs as (default: this process's uid/gid). */
  ctx?: Ctx;
  /** Add libfuse's `debug` option (very verbose, on stderr). */
  debug?: boolean;
}

export class FuseNativeAdapter {
  readonly operations: FuseOperations;
  private readonly vfs: VfsApi;
  private readonly ctx: Ctx;
  private readonly paths: HidingPathResolver;
  private readonly handles = new HandleTable();
  private readonly fuse: MosaicFuse;

  constructor(opts: FuseAdapterOptions) {
    this.vfs = opts.vfs;
    this.ctx = opts.ctx ?? defaultCtx();
    this.paths = new HidingPathResolver(this.vfs, this.ctx);
    const ops = rejectEmptyPaths(this.buildOperations());
    this.operations = fuseStatsEnabled() ? countedUntilExit(ops) : ops;
    this.fuse = new MosaicFuse(opts.mountpoint, this.operations, fuseOptionList(opts.options));
    if (opts.debug) this.fuse.opts.debug = true;
  }

  /** Mount; resolves when the kernel has initialised the connection. */
  mount(): Promise<void> {
    return this.fuse.mountAsync();
  }

  /** Number of files the kernel holds open through us. */
  get openFiles(): number {
    return this.handles.size;
  }

  private buildOperations(): FuseOperations {
    const { vfs, ctx, paths, handles } = this;

    const getattr = (path: string, cb: ValCb<FuseStat>) => {
      paths.attr(path).then((a) => cb(0, toFuseStat(a)), (e) => cb(fail(e, 'getattr', path)));
    };

    const ops = {
      getattr,
      // By handle: an unlinked open file has no path (see top). fd 0 is not ours (opendir answers 0).
      fgetattr: (path: string, fd: number, cb: ValCb<FuseStat>) => {
        if (fd === 0) return getattr(path, cb);
        withHandle(fd, (f) => vfs.getattr(ctx, f.ino)).then((a) => cb(0, toFuseStat(a)), (e) => cb(fail(e, 'fgetattr', path)));
      },

      access: (path: string, mode: number, cb: ErrCb) => {
        done(paths.ino(path).then((ino) => vfs.access(ctx, ino, mode)), cb, 'access', path);
      },

      statfs: (path: string, cb: ValCb<ReturnType<typeof toFuseStatfs>>) => {
        vfs.statfs(ctx).then((s) => cb(0, toFuseStatfs(s)), (e) => cb(fail(e, 'statfs', path)));
      },

      opendir: (path: string, _flags: number, cb: ValCb<number>) => {
        paths.attr(path).then(
          (a) => ((a.mode & S_IFMT) === S_IFDIR ? cb(0, 0) : cb(-toErrno(new FsError('ENOTDIR')))),
          (e) => cb(fail(e, 'opendir', path)),
        );
      },
      releasedir: (_path: string, _fd: number, cb: ErrCb) => cb(0),

      readdir: (path: string, cb: (err: number, names?: string[], stats?: FuseStat[]) => void) => {
        this.listDirectory(path).then(
          ({ names, stats }) => cb(0, names, stats as never),
          (e) => cb(fail(e, 'readdir', path)),
        );
      },

      mkdir: (path: string, mode: number, cb: ErrCb) => {
        done(this.createName(path, (p, n) => vfs.mkdir(ctx, p, n, S_IFDIR | (mode & 0o7777))), cb, 'mkdir', path);
      },

      mknod: (path: string, mode: number, dev: number, cb: ErrCb) => {
        done(this.createName(path, (p, n) => vfs.mknod(ctx, p, n, mode, dev)), cb, 'mknod', path);
      },

      symlink: (target: string, path: string, cb: ErrCb) => {
        done(this.createName(path, (p, n) => vfs.symlink(ctx, p, n, target)), cb, 'symlink', path);
      },

      link: (src: string, dest: string, cb: ErrCb) => {
        done(
          paths.ino(src).then((ino) => this.createName(dest, (p, n) => vfs.link(ctx, ino, p, n))),
          cb, 'link', dest,
        );
      },

      create: (path: string, mode: number, cb: ValCb<number>) => {
        let fh = 0;
        this.createName(path, async (p, n) => {
          const r = await vfs.create(ctx, p, n, S_IFREG | (mode & 0o7777), O_RDWR | O_CREAT);
          fh = handles.add({ fh: r.fh, ino: r.attr.ino });
          return r.attr;
        }).then(() => cb(0, fh), (e) => cb(fail(e, 'create', path)));
      },

      open: (path: string, flags: number, cb: ValCb<number>) => {
        paths.ino(path)
          .then((ino) => vfs.open(ctx, ino, flags))
          .then((r) => cb(0, handles.add({ fh: r.fh, ino: r.attr.ino })), (e) => cb(fail(e, 'open', path)));
      },

      read: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
        let file;
        try { file = handles.get(fd); } catch (e) { return cb(fail(e, 'read', path)); }
        vfs.read(ctx, file.fh, pos, len).then(
          (data) => cb(data.copy(buf, 0, 0, Math.min(len, data.length))),
          (e) => cb(fail(e, 'read', path)),
        );
      },

      write: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
        let file;
        try { file = handles.get(fd); } catch (e) { return cb(fail(e, 'write', path)); }
        // buf is the kernel's memory, detached once we answer; the data layer copies what it
        // buffers before write() resolves (src/data/extents.ts), so no copy is needed here.
        vfs.write(ctx, file.fh, pos, len === buf.length ? buf : buf.subarray(0, len)).then((n) => cb(n), (e) => cb(fail(e, 'write', path)));
      },

      flush: (path: string, fd: number, cb: ErrCb) => {
        done(withHandle(fd, (f) => vfs.flush(ctx, f.fh)), cb, 'flush', path);
      },

      fsync: (path: string, datasync: number | boolean, fd: number, cb: ErrCb) => {
        done(withHandle(fd, (f) => vfs.fsync(ctx, f.fh, !!datasync)), cb, 'fsync', path);
      },

      fsyncdir: (path: string, datasync: number | boolean, _fd: number, cb: ErrCb) => {
        done(this.withDirHandle(path, (dh) => vfs.fsyncdir(ctx, dh, !!datasync)), cb, 'fsyncdir', path);
      },

      release: (path: string, fd: number, cb: ErrCb) => {
        done(withHandle(fd, (f) => vfs.release(ctx, f.fh).finally(() => handles.remove(fd))), cb, 'release', path);
      },

      truncate: (path: string, size: number, cb: ErrCb) => {
        done(paths.ino(path).then((ino) => vfs.setattr(ctx, ino, { size })), cb, 'truncate', path);
      },

      ftruncate: (path: string, fd: number, size: number, cb: ErrCb) => {
        done(withHandle(fd, (f) => vfs.setattr(ctx, f.ino, { size }, f.fh)), cb, 'ftruncate', path);
      },

      chmod: (path: string, mode: number, cb: ErrCb) => {
        done(this.setattr(path, { mode: mode & 0o7777 }), cb, 'chmod', path);
      },

      chown: (path: string, uid: number, gid: number, cb: ErrCb) => {
        const set: SetAttr = {};
        if (uid !== UNCHANGED_ID && uid !== -1) set.uid = uid;
        if (gid !== UNCHANGED_ID && gid !== -1) set.gid = gid;
        done(this.setattr(path, set), cb, 'chown', path);
      },

      utimens: (path: string, atime: Date | number, mtime: Date | number, cb: ErrCb) => {
        const set: SetAttr = {};
        const a = decodeUtimensArg(atime);
        const m = decodeUtimensArg(mtime);
        if (a !== undefined) set.atime = a;
        if (m !== undefined) set.mtime = m;
        done(this.setattr(path, set), cb, 'utimens', path);
      },

      readlink: (path: string, cb: ValCb<string>) => {
        paths.ino(path).then((ino) => vfs.readlink(ctx, ino)).then((t) => cb(0, t), (e) => cb(fail(e, 'readlink', path)));
      },

      unlink: (path: string, cb: ErrCb) => {
        if (paths.unhide(path)) return cb(0); // the last release of a hidden file: already unlinked
        done(this.removeName(path, (p, n) => vfs.unlink(ctx, p, n)), cb, 'unlink', path);
      },

      rmdir: (path: string, cb: ErrCb) => {
        // libfuse2's high-level API reaches an open-unlinked file only through its hidden path; once
        // the folder holding that path is gone, libfuse answers ENOENT to every read/write/fstat of
        // the still-open file without asking us. So a folder holding one is not empty here (as with
        // stock libfuse2 file systems such as sshfs): open files keep working. Our own binding has
        // no such limit.
        if (paths.holdsHidden(path)) return cb(-toErrno(new FsError('ENOTEMPTY', 'holds an open, unlinked file')));
        done(this.removeName(path, (p, n) => vfs.rmdir(ctx, p, n)), cb, 'rmdir', path);
      },

      rename: (src: string, dest: string, cb: ErrCb) => {
        if (isHiddenPath(dest)) return done(this.hide(src, dest), cb, 'rename', src);
        const work = Promise.all([paths.parentOf(src), paths.parentOf(dest)]).then(async ([a, b]) => {
          try {
            await vfs.rename(ctx, a.parent, a.name, b.parent, b.name, 0);
          } finally {
            paths.forget(src);
            paths.forget(dest);
          }
        });
        done(work, cb, 'rename', src);
      },

      setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: ErrCb) => {
        const copy = Buffer.from(value); // kernel memory, detached after we answer
        done(paths.ino(path).then((ino) => vfs.setxattr(ctx, ino, name, copy, flags)), cb, 'setxattr', path);
      },

      getxattr: (path: string, name: string, _size: number, cb: ValCb<Buffer>) => {
        paths.ino(path).then((ino) => vfs.getxattr(ctx, ino, name)).then((v) => cb(0, v), (e) => cb(fail(e, 'getxattr', path, 'ENODATA')));
      },

      listxattr: (path: string, cb: ValCb<string[]>) => {
        paths.ino(path).then((ino) => vfs.listxattr(ctx, ino)).then((l) => cb(0, l), (e) => cb(fail(e, 'listxattr', path)));
      },

      removexattr: (path: string, name: string, cb: ErrCb) => {
        done(paths.ino(path).then((ino) => vfs.removexattr(ctx, ino, name)), cb, 'removexattr', path);
      },
    };
    return ops as unknown as FuseOperations;

    function withHandle<T>(fd: number, fn: (f: { fh: number; ino: number }) => Promise<T>): Promise<T> {
      try {
        return fn(handles.get(fd));
      } catch (e) {
        return Promise.reject(e);
      }
    }
  }

  private async createName(path: string, make: (parent: number, name: string) => Promise<{ ino: number }>): Promise<void> {
    const { parent, name } = await this.paths.parentOf(path);
    const attr = await make(parent, name);
    this.paths.remember(path, attr.ino);
  }

  private async removeName(path: string, remove: (parent: number, name: string) => Promise<void>): Promise<void> {
    const { parent, name } = await this.paths.parentOf(path);
    try {
      await remove(parent, name);
    } finally {
      this.paths.forget(path);
    }
  }

  /** libfuse2's unlink of an open file, as a rename to a hidden name: unlink now, keep the path. */
  private async hide(path: string, hiddenPath: string): Promise<void> {
    const ino = await this.paths.ino(path);
    await this.removeName(path, (p, n) => this.vfs.unlink(this.ctx, p, n));
    this.paths.hide(hiddenPath, ino);
  }

  private async setattr(path: string, set: SetAttr): Promise<void> {
    const ino = await this.paths.ino(path);
    await this.vfs.setattr(this.ctx, ino, set);
  }

  private async withDirHandle<T>(path: string, fn: (dh: number) => Promise<T>): Promise<T> {
    const dh = await this.vfs.opendir(this.ctx, await this.paths.ino(path));
    try {
      return await fn(dh);
    } finally {
      await this.vfs.releasedir(this.ctx, dh);
    }
  }

  /** Every entry of a directory ('.' and '..' included), paged through the VFS. */
  private listDirectory(path: string): Promise<{ names: string[]; stats: FuseStat[] }> {
    return this.withDirHandle(path, async (dh) => {
      const names: string[] = [];
      const stats: FuseStat[] = [];
      let offset = 0;
      for (;;) {
        const page = await this.vfs.readdir(this.ctx, dh, offset, READDIR_PAGE);
        if (page.length === 0) break;
        for (const e of page) {
          names.push(e.name);
          stats.push(direntStat(e));
        }
        offset = page[page.length - 1].next;
      }
      return { names, stats };
    });
  }
}

/** Operations that work from the fd alone, so they accept the '' path of an unlinked open file. */
const FD_OPERATIONS = new Set(['read', 'write', 'flush', 'fsync', 'release', 'releasedir', 'ftruncate', 'fgetattr']);
const ENOENT = -errnoOf('ENOENT');

/** Every path-based operation answers ENOENT for path '' (the callback is always the last argument). */
function rejectEmptyPaths(ops: FuseOperations): FuseOperations {
  const guarded: Record<string, (...args: unknown[]) => void> = {};
  for (const [name, fn] of Object.entries(ops) as Array<[string, (...args: unknown[]) => void]>) {
    guarded[name] = FD_OPERATIONS.has(name) ? fn : (...args: unknown[]) => {
      if (args[0] !== '') return fn(...args);
      (args[args.length - 1] as (err: number) => void)(ENOENT);
    };
  }
  return guarded as unknown as FuseOperations;
}

function defaultCtx(): Ctx {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: 0 };
}

function done(p: Promise<unknown>, cb: ErrCb, op: string, path: string): void {
  p.then(() => cb(0), (e) => cb(fail(e, op, path)));
}

/** Log and turn an error into the negative errno libfuse expects. */
function fail(err: unknown, op: string, path: string, quietCode?: string): number {
  if (isFsError(err)) {
    if (err.code !== quietCode && err.code !== 'ENOENT') log.debug({ op, path, code: err.code }, err.message);
  } else {
    log.error({ op, path, err }, 'unexpected error in FUSE operation');
  }
  return -toErrno(err);
}
