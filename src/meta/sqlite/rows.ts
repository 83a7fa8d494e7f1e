import { FsError } from '../../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, type InodeAttr, type Timespec } from '../MetaStore.js';

/** A row of the inodes table. */
export interface InodeRow {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  rdev: number;
  /** Sum of the inode's slice lengths, kept by SliceTable. */
  alloc: number;
  atime_s: number;
  atime_ns: number;
  mtime_s: number;
  mtime_ns: number;
  ctime_s: number;
  ctime_ns: number;
  crtime_s: number;
  crtime_ns: number;
}

/**
 * The inodes columns, in the order inodeRow() reads them. Hot statements fetch inodes as raw arrays:
 * better-sqlite3 builds a row object property by property, which costs more than the query itself.
 */
export const INODE_COLUMNS = [
  'ino', 'mode', 'uid', 'gid', 'size', 'nlink', 'rdev', 'alloc',
  'atime_s', 'atime_ns', 'mtime_s', 'mtime_ns', 'ctime_s', 'ctime_ns', 'crtime_s', 'crtime_ns',
] as const;

/** A raw inodes row (INODE_COLUMNS order) as an InodeRow; undefined stays undefined. */
export function inodeRow(raw: unknown): InodeRow | undefined {
  if (raw === undefined) return undefined;
  const v = raw as number[];
  return {
    ino: v[0], mode: v[1], uid: v[2], gid: v[3], size: v[4], nlink: v[5], rdev: v[6], alloc: v[7],
    atime_s: v[8], atime_ns: v[9], mtime_s: v[10], mtime_ns: v[11],
    ctime_s: v[12], ctime_ns: v[13], crtime_s: v[14], crtime_ns: v[15],
  };
}

export interface BlockRow {
  id: string;
  size: number;
  stored_size: number;
  refs: number;
}

export function toAttr(r: InodeRow): InodeAttr {
  return {
    ino: r.ino,
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    size: r.size,
    nlink: r.nlink,
    rdev: r.rdev,
    allocated: r.alloc,
    atime: { sec: r.atime_s, nsec: r.atime_ns },
    mtime: { sec: r.mtime_s, nsec: r.mtime_ns },
    ctime: { sec: r.ctime_s, nsec: r.ctime_ns },
    crtime: { sec: r.crtime_s, nsec: r.crtime_ns },
  };
}

export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

export function isRegMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

export function checkTimespec(t: Timespec, what: string): void {
  if (!Number.isSafeInteger(t?.sec) || !Number.isInteger(t?.nsec) || t.nsec < 0 || t.nsec > 999_999_999) {
    throw new FsError('EINVAL', `invalid ${what} timespec ${JSON.stringify(t)}`);
  }
}
