/**
 * InodeAttr -> the stat object fuse-native turns into a struct stat.
 * Limits of fuse-native (libfuse2 binding), documented rather than hidden:
 * - times travel as milliseconds (nanoseconds below 1 ms are lost);
 * - st_ino, st_mode, st_uid, st_gid, st_nlink, st_rdev are 32-bit.
 */
import type { InodeAttr, ReaddirEntry, StatFs } from '../vfs/types.js';

/** What fuse-native's getStatArray() reads; it accepts numbers (ms) for the times. */
export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  dev: number;
  nlink: number;
  ino: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

/** Preferred I/O size reported in st_blksize: libfuse2 caps writes at 128 KiB. */
export const IO_BLOCK_SIZE = 128 * 1024;

export function toFuseStat(a: InodeAttr): FuseStat {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    dev: 0,
    nlink: a.nlink,
    ino: a.ino,
    rdev: a.rdev,
    blksize: IO_BLOCK_SIZE,
    // 512-byte units of stored data, as kernel file systems report allocated space: holes count nothing.
    blocks: Math.ceil(a.allocated / 512),
    atime: a.atime.sec * 1000 + Math.floor(a.atime.nsec / 1e6),
    mtime: a.mtime.sec * 1000 + Math.floor(a.mtime.nsec / 1e6),
    ctime: a.ctime.sec * 1000 + Math.floor(a.ctime.nsec / 1e6),
  };
}

/** readdir only needs st_ino (with use_ino) and the type bits of st_mode. */
export function direntStat(e: ReaddirEntry): FuseStat {
  return { mode: e.mode, uid: 0, gid: 0, size: 0, dev: 0, nlink: 1, ino: e.ino, rdev: 0, blksize: 0, blocks: 0, atime: 0, mtime: 0, ctime: 0 };
}

const U32 = 0xffffffff;

/** statvfs fields are 32-bit in fuse-native's transfer array: clamp rather than wrap. */
export function toFuseStatfs(s: StatFs) {
  const c = (n: number) => Math.max(0, Math.min(U32, Math.floor(n)));
  // Keep blocks*frsize right when the counts overflow 32 bits by growing the fragment size.
  let frsize = s.frsize;
  let scale = 1;
  while (s.blocks / scale > U32 && frsize * 2 <= 1 << 30) { frsize *= 2; scale *= 2; }
  return {
    bsize: c(Math.max(s.bsize, frsize)),
    frsize: c(frsize),
    blocks: c(s.blocks / scale),
    bfree: c(s.bfree / scale),
    bavail: c(s.bavail / scale),
    files: c(s.files),
    ffree: c(s.ffree),
    favail: c(s.ffree),
    fsid: 0,
    flag: 0,
    namemax: c(s.namemax),
  };
}
