/**
 * Numbers of the FUSE kernel protocol (include/uapi/linux/fuse.h), for the protocol version we
 * speak: 7.38. The kernel adapts to the lower of its minor and ours, so struct sizes below are
 * those of 7.38 (e.g. fuse_setxattr_in is 8 bytes because we do not negotiate SETXATTR_EXT).
 */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 38;
export const FUSE_ROOT_ID = 1;

export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9,
  UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25,
  INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32,
  SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  NOTIFY_REPLY: 41, BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46,
  COPY_FILE_RANGE: 47, SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51,
} as const;

/** fuse_init_in/out flags (the low 32 bits; we use none of flags2). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  FLOCK_LOCKS: 1 << 10,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  MAX_PAGES: 1 << 22,
  /**
   * The file system kills suid/sgid/security.capability on write, truncate and chown (protocol
   * 7.33). The kernel then sets SB_NOSEC: it asks GETXATTR security.capability once per inode
   * (until its attributes are refreshed) instead of before every write.
   */
  HANDLE_KILLPRIV_V2: 1 << 28,
  INIT_EXT: 1 << 30,
} as const;

/** fuse_setattr_in.valid bits. */
export const Fattr = {
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6,
  ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8, LOCKOWNER: 1 << 9, CTIME: 1 << 10, KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags. */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
/** No FLUSH when this handle is closed (protocol 7.35; older kernels ignore it). */
export const FOPEN_NOFLUSH = 1 << 5;

export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_write_in.write_flags / fuse_create_in.open_flags with HANDLE_KILLPRIV_V2: the caller lacks CAP_FSETID. */
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** Struct sizes (bytes). */
export const Size = {
  IN_HEADER: 40,
  OUT_HEADER: 16,
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  OPEN_OUT: 16,
  WRITE_IN: 40,
  WRITE_OUT: 8,
  KSTATFS: 80,
  INIT_OUT: 64,
  DIRENT: 24,
  DIRENTPLUS: 152,
  GETXATTR_OUT: 8,
  LSEEK_OUT: 8,
} as const;

/** The largest WRITE we accept and READ the kernel may ask for: 256 pages of 4 KiB. */
export const MAX_PAGES = 256;
export const MAX_WRITE = MAX_PAGES * 4096;
/** The kernel refuses a read(2) of /dev/fuse shorter than header + fuse_write_in + max_write. */
export const REQUEST_BUFFER_SIZE = MAX_WRITE + 4096;

/** Unsolicited notifications (fuse_out_header.unique = 0, error = the code). */
export const Notify = {
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
} as const;

/**
 * fuse_notify_inval_inode_out (ino, off, len), fuse_notify_inval_entry_out (parent, namelen, flags)
 * and fuse_notify_store_out (nodeid, offset, size, padding; the data follows).
 */
export const NotifySize = {
  INVAL_INODE_OUT: 24,
  INVAL_ENTRY_OUT: 16,
  STORE_OUT: 24,
} as const;
