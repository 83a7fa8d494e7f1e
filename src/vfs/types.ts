import type { InodeAttr, Timespec } from '../meta/MetaStore.js';

/** Who is calling: every VFS operation takes one. The FUSE adapter fills it from the request. */
export interface Ctx {
  uid: number;
  gid: number;
  pid: number;
  /** Supplementary groups, when known. */
  groups?: number[];
}

export const ROOT_CTX: Ctx = Object.freeze({ uid: 0, gid: 0, pid: 0 }) as Ctx;

/** A time to set: an exact time, 'now' (UTIME_NOW). Absent means UTIME_OMIT. */
export type TimeSet = Timespec | 'now';

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
}

export interface ReaddirEntry {
  name: string;
  ino: number;
  mode: number;
  /** Offset to pass to the next readdir to continue after this entry. */
  next: number;
  /**
   * The entry's attributes, as lookup(ctx, dir, name) would give them at the time of the listing
   * (READDIRPLUS serves them without a lookup per entry). Present only when attributes were asked
   * for and the caller may search the directory; never on '.' and '..'.
   */
  attr?: InodeAttr;
}

export interface OpenResult {
  fh: number;
  attr: InodeAttr;
  /**
   * Each close(2) of this handle (FUSE FLUSH) has nothing to do that the last close (RELEASE) does
   * not: the data layer does not wait for uploads at close (write-back), so a binding may tell the
   * kernel not to send FLUSH (FOPEN_NOFLUSH). A background upload's failure is then reported by the
   * next fsync (as on ext4), not by close.
   */
  noFlush?: boolean;
}

export type { InodeAttr, Timespec };

/**
 * The VFS: POSIX semantics on inodes and handles. The FUSE adapter and the CLI both drive it;
 * nothing else reimplements file system rules. Every method throws FsError on failure.
 */
export interface VfsApi {
  lookup(ctx: Ctx, parent: number, name: string): Promise<InodeAttr>;
  /** Resolve an absolute path (no symlink following at the last component; intermediate symlinks are followed). */
  resolve(ctx: Ctx, path: string): Promise<InodeAttr>;
  getattr(ctx: Ctx, ino: number): Promise<InodeAttr>;
  setattr(ctx: Ctx, ino: number, set: SetAttr, fh?: number): Promise<InodeAttr>;
  access(ctx: Ctx, ino: number, mask: number): Promise<void>;
  readlink(ctx: Ctx, ino: number): Promise<string>;
  mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<InodeAttr>;
  mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<InodeAttr>;
  symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<InodeAttr>;
  link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<InodeAttr>;
  unlink(ctx: Ctx, parent: number, name: string): Promise<void>;
  rmdir(ctx: Ctx, parent: number, name: string): Promise<void>;
  rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void>;

  /** flags are open(2) flags (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND...). */
  open(ctx: Ctx, ino: number, flags: number): Promise<OpenResult>;
  /** O_EXCL gives EEXIST when the name exists; without it an existing file is opened (and O_TRUNC applies). */
  create(ctx: Ctx, parent: number, name: string, mode: number, flags: number): Promise<OpenResult>;
  read(ctx: Ctx, fh: number, offset: number, length: number): Promise<Buffer>;
  /** Returns bytes written. With O_APPEND on the handle, offset is ignored and data goes at the end. */
  write(ctx: Ctx, fh: number, offset: number, data: Uint8Array): Promise<number>;
  flush(ctx: Ctx, fh: number): Promise<void>;
  fsync(ctx: Ctx, fh: number, datasync: boolean): Promise<void>;
  release(ctx: Ctx, fh: number): Promise<void>;
  fallocate(ctx: Ctx, fh: number, mode: number, offset: number, length: number): Promise<void>;

  opendir(ctx: Ctx, ino: number): Promise<number>;
  /**
   * Entries after `offset` (0 = start; '.' and '..' included first), at most `limit`. `withAttrs`
   * (default true) asks for each entry's attributes (ReaddirEntry.attr); pass false when only names
   * and types are needed (a plain READDIR), which is cheaper. The default is true so a wrapper that
   * forwards only four arguments still passes attributes through.
   */
  readdir(ctx: Ctx, fh: number, offset: number, limit: number, withAttrs?: boolean): Promise<ReaddirEntry[]>;
  releasedir(ctx: Ctx, fh: number): Promise<void>;
  fsyncdir(ctx: Ctx, fh: number, datasync: boolean): Promise<void>;

  statfs(ctx: Ctx): Promise<StatFs>;
  setxattr(ctx: Ctx, ino: number, name: string, value: Buffer, flags: number): Promise<void>;
  getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer>;
  listxattr(ctx: Ctx, ino: number): Promise<string[]>;
  removexattr(ctx: Ctx, ino: number, name: string): Promise<void>;

  /** Flush all buffered data and stop (unmount). */
  shutdown(): Promise<void>;
}
