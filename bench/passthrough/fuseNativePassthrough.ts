/**
 * The same passthrough file system on @cocalc/fuse-native (libfuse2, path-based), with the same
 * mount options mosaicfs uses there (except direct_io instead of auto_cache, see localFs.ts), for
 * comparison with kernelPassthrough.ts. libfuse 2 itself reads a listing once per opendir and
 * serves later READDIRs from its buffer, like kernelPassthrough.ts does.
 * Usage: node dist/bench/passthrough/fuseNativePassthrough.js SRC MNT
 */
import * as fs from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { DEFAULT_MOUNT_OPTIONS, fuseOptionList } from '../../src/fuse/mountOptions.js';
import { MosaicFuse, type FuseOperations } from '../../src/fuse/MosaicFuse.js';
import { toFuseStat, toFuseStatfs } from '../../src/fuse/stat.js';
import { decodeUtimensArg } from '../../src/fuse/utimens.js';
import { isMain, lstatAttr, lstatIfExists, negErrno, runForeground, toAttr } from './localFs.js';

type Cb = (...args: unknown[]) => void;
/** Run a sync call and answer fuse-native: cb(0, value) or cb(-errno). */
const answer = (cb: Cb, fn: () => unknown) => {
  let v: unknown;
  try { v = fn(); } catch (e) { return cb(negErrno(e)); }
  return v === undefined ? cb(0) : cb(0, v);
};
/** read/write answer with a byte count or -errno. */
const count = (cb: Cb, fn: () => number) => {
  try { cb(fn()); } catch (e) { cb(negErrno(e)); }
};
const UNCHANGED = 0xffffffff;
const ENOENT = -constants.errno.ENOENT;
/** Attributes of `p`, or the missing-name answer without an exception (see lstatIfExists). */
const statOf = (p: string, cb: Cb) => {
  let s: fs.BigIntStats | undefined;
  try { s = lstatIfExists(p); } catch (e) { return cb(negErrno(e)); }
  return s === undefined ? cb(ENOENT) : cb(0, toFuseStat(toAttr(s)));
};

export class FuseNativePassthrough {
  private readonly fuse: MosaicFuse;
  private resolveGone!: () => void;
  readonly gone = new Promise<void>((r) => { this.resolveGone = r; });

  constructor(src: string, mnt: string) {
    const p = (rel: string) => path.join(src, rel);
    const ops = {
      getattr: (rel: string, cb: Cb) => statOf(p(rel), cb),
      fgetattr: (rel: string, _fd: number, cb: Cb) => statOf(p(rel), cb),
      access: (rel: string, mode: number, cb: Cb) => answer(cb, () => fs.accessSync(p(rel), mode)),
      statfs: (rel: string, cb: Cb) => answer(cb, () => {
        const s = fs.statfsSync(p(rel));
        return toFuseStatfs({ bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, namemax: 255 });
      }),
      readdir: (rel: string, cb: Cb) => answer(cb, () => fs.readdirSync(p(rel))),
      readlink: (rel: string, cb: Cb) => answer(cb, () => fs.readlinkSync(p(rel))),
      mkdir: (rel: string, mode: number, cb: Cb) => answer(cb, () => { fs.mkdirSync(p(rel), mode & 0o7777); }),
      rmdir: (rel: string, cb: Cb) => answer(cb, () => fs.rmdirSync(p(rel))),
      unlink: (rel: string, cb: Cb) => answer(cb, () => fs.unlinkSync(p(rel))),
      rename: (a: string, b: string, cb: Cb) => answer(cb, () => fs.renameSync(p(a), p(b))),
      symlink: (target: string, rel: string, cb: Cb) => answer(cb, () => fs.symlinkSync(target, p(rel))),
      link: (a: string, b: string, cb: Cb) => answer(cb, () => fs.linkSync(p(a), p(b))),
      chmod: (rel: string, mode: number, cb: Cb) => answer(cb, () => fs.chmodSync(p(rel), mode & 0o7777)),
      chown: (rel: string, uid: number, gid: number, cb: Cb) =>
        answer(cb, () => fs.lchownSync(p(rel), uid === UNCHANGED ? -1 : uid, gid === UNCHANGED ? -1 : gid)),
      utimens: (rel: string, atime: number | Date, mtime: number | Date, cb: Cb) => answer(cb, () => {
        const cur = lstatAttr(p(rel));
        const secs = (arg: number | Date, ns: bigint) => {
          const t = decodeUtimensArg(arg);
          return t === undefined ? Number(ns) / 1e9 : t === 'now' ? Date.now() / 1000 : t.sec + t.nsec / 1e9;
        };
        fs.lutimesSync(p(rel), secs(atime, cur.atimeNs), secs(mtime, cur.mtimeNs));
      }),
      truncate: (rel: string, size: number, cb: Cb) => answer(cb, () => fs.truncateSync(p(rel), size)),
      ftruncate: (_rel: string, fd: number, size: number, cb: Cb) => answer(cb, () => fs.ftruncateSync(fd, size)),
      open: (rel: string, flags: number, cb: Cb) => answer(cb, () => fs.openSync(p(rel), flags & ~fs.constants.O_DIRECT)),
      create: (rel: string, mode: number, cb: Cb) => answer(cb, () => fs.openSync(p(rel), fs.constants.O_RDWR | fs.constants.O_CREAT, mode & 0o7777)),
      read: (_rel: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => count(cb, () => fs.readSync(fd, buf, 0, len, pos)),
      write: (_rel: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => count(cb, () => fs.writeSync(fd, buf, 0, len, pos)),
      flush: (_rel: string, _fd: number, cb: Cb) => cb(0),
      fsync: (_rel: string, datasync: boolean, fd: number, cb: Cb) => answer(cb, () => (datasync ? fs.fdatasyncSync(fd) : fs.fsyncSync(fd))),
      release: (_rel: string, fd: number, cb: Cb) => answer(cb, () => fs.closeSync(fd)),
    };
    const options = fuseOptionList({ ...DEFAULT_MOUNT_OPTIONS, fsname: 'passthrough', autoCache: false }).filter((o) => !o.startsWith('subtype='));
    this.fuse = new MosaicFuse(mnt, ops as unknown as FuseOperations, [...options, 'subtype=passthrough', 'direct_io']);
  }

  mount(): Promise<void> {
    return this.fuse.mountAsync();
  }

  unmount(): Promise<void> {
    return new Promise((resolve, reject) => this.fuse.unmount((err: Error | null) => {
      if (err) return reject(err);
      this.resolveGone();
      resolve();
    }));
  }
}

if (isMain(import.meta.url)) await runForeground('fuseNativePassthrough', (src, mnt) => new FuseNativePassthrough(src, mnt));
