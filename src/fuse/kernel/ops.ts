/**
 * What a file system implements to be served by FuseSession: inode-based operations, much like
 * libfuse's low-level API, but promise-returning. A missing method answers ENOSYS. Errors thrown
 * become errno replies through toErrno() (src/errors.ts).
 */
import type { InodeAttr, StatFs, Timespec } from '../../vfs/types.js';
import type { DirEntry } from './wire.js';

/** Who asked, as the kernel reports it in fuse_in_header. */
export interface FuseRequest {
  readonly unique: bigint;
  readonly opcode: number;
  readonly nodeid: number;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** SETATTR, decoded: only the fields the kernel marked valid are present. */
export interface SetattrIn {
  fh?: number;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
  ctime?: Timespec;
}

export interface Opened {
  fh: number;
  /** Keep the kernel's page cache of this file (FOPEN_KEEP_CACHE). */
  keepCache?: boolean;
  directIo?: boolean;
  /** The kernel sends no FLUSH when this handle is closed (FOPEN_NOFLUSH). */
  noFlush?: boolean;
}

export interface Created extends Opened {
  attr: InodeAttr;
}

export interface FuseOps {
  lookup?(req: FuseRequest, parent: number, name: string): Promise<InodeAttr>;
  /** The kernel dropped its last reference to ino (lookup counts are kept by the session). */
  forget?(ino: number): void;
  getattr?(req: FuseRequest, ino: number, fh?: number): Promise<InodeAttr>;
  setattr?(req: FuseRequest, ino: number, set: SetattrIn): Promise<InodeAttr>;
  readlink?(req: FuseRequest, ino: number): Promise<string>;
  symlink?(req: FuseRequest, parent: number, name: string, target: string): Promise<InodeAttr>;
  mknod?(req: FuseRequest, parent: number, name: string, mode: number, rdev: number): Promise<InodeAttr>;
  mkdir?(req: FuseRequest, parent: number, name: string, mode: number): Promise<InodeAttr>;
  unlink?(req: FuseRequest, parent: number, name: string): Promise<void>;
  rmdir?(req: FuseRequest, parent: number, name: string): Promise<void>;
  rename?(req: FuseRequest, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void>;
  link?(req: FuseRequest, ino: number, newParent: number, newName: string): Promise<InodeAttr>;
  open?(req: FuseRequest, ino: number, flags: number): Promise<Opened>;
  create?(req: FuseRequest, parent: number, name: string, mode: number, flags: number): Promise<Created>;
  read?(req: FuseRequest, ino: number, fh: number, offset: number, size: number): Promise<Buffer>;
  /** Called once the reply to a READ (`data`, at most `size` bytes) has reached the kernel. */
  readReplied?(req: FuseRequest, ino: number, fh: number, offset: number, size: number, data: Buffer): void;
  /** `data` views the request buffer: it is reused once the promise settles, so copy what you keep. */
  write?(req: FuseRequest, ino: number, fh: number, offset: number, data: Buffer): Promise<number>;
  flush?(req: FuseRequest, ino: number, fh: number): Promise<void>;
  release?(req: FuseRequest, ino: number, fh: number): Promise<void>;
  fsync?(req: FuseRequest, ino: number, fh: number, datasync: boolean): Promise<void>;
  fallocate?(req: FuseRequest, ino: number, fh: number, offset: number, length: number, mode: number): Promise<void>;
  /** Returns the resulting offset (SEEK_DATA / SEEK_HOLE). */
  lseek?(req: FuseRequest, ino: number, fh: number, offset: number, whence: number): Promise<number>;
  opendir?(req: FuseRequest, ino: number, flags: number): Promise<Opened>;
  /** Entries after `offset` ('.' and '..' first), at most `limit`; the session packs what fits. */
  readdir?(req: FuseRequest, ino: number, fh: number, offset: number, limit: number): Promise<DirEntry[]>;
  releasedir?(req: FuseRequest, ino: number, fh: number): Promise<void>;
  fsyncdir?(req: FuseRequest, ino: number, fh: number, datasync: boolean): Promise<void>;
  statfs?(req: FuseRequest, ino: number): Promise<StatFs>;
  access?(req: FuseRequest, ino: number, mask: number): Promise<void>;
  setxattr?(req: FuseRequest, ino: number, name: string, value: Buffer, flags: number): Promise<void>;
  getxattr?(req: FuseRequest, ino: number, name: string): Promise<Buffer>;
  listxattr?(req: FuseRequest, ino: number): Promise<string[]>;
  removexattr?(req: FuseRequest, ino: number, name: string): Promise<void>;
  /** The connection is going away (FUSE_DESTROY). */
  destroy?(): Promise<void>;
}
