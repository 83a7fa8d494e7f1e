/**
 * MetaStore: the engine-neutral metadata interface (inodes, directory entries, symlinks, xattrs,
 * per-file slice lists and block reference counts). Engines: SQLite now; PostgreSQL and a remote
 * proxy later. Every method that changes the namespace is ONE transaction in the engine.
 *
 * Errors: methods throw FsError (src/errors.ts) with the POSIX code a kernel file system would give
 * for the same condition (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, EMLINK, ENODATA...).
 * Permission checks are NOT done here: the VFS does them (it knows the caller).
 *
 * Numbers: inode numbers, sizes and offsets are JS numbers (exact to 2^53). Timestamps carry
 * nanoseconds as {sec, nsec}.
 */

export interface Timespec {
  sec: number;
  nsec: number;
}

export const ROOT_INO = 1;

/** S_IFMT and friends, as in <sys/stat.h>. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

export interface InodeAttr {
  ino: number;
  /** File type bits and permission bits together, as st_mode. */
  mode: number;
  uid: number;
  gid: number;
  /** Logical size in bytes (symlinks: length of the target in bytes; directories: 0 is fine). */
  size: number;
  nlink: number;
  rdev: number;
  /**
   * Bytes of stored data the inode references: the sum of its slice lengths (overwritten bytes count
   * until compaction drops them; holes count nothing). 0 for directories and symlinks. st_blocks.
   */
  allocated: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
}

/** What a caller supplies to create an inode; the store assigns ino and nlink. */
export interface NewInode {
  mode: number;
  uid: number;
  gid: number;
  rdev?: number;
  /** Used for atime, mtime, ctime, crtime of the new inode, and for mtime/ctime of the parent. */
  now: Timespec;
  /** Only for symlinks: the target. size becomes its byte length. */
  symlinkTarget?: string;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** st_mode of the child (type bits are what readdir needs; full mode is a bonus). */
  mode: number;
  /** The child's full attributes (what getattr(ino) gives), present only when readdir was asked withAttrs. */
  attr?: InodeAttr;
  /**
   * Names of the child's xattrs. Engines leave it out; the server adds it to pages read withAttrs,
   * so a remote client knows which xattrs are absent without asking per entry.
   */
  xattrs?: string[];
}

export interface DirPage {
  entries: DirEntry[];
  /** Opaque cursor for the next page, or null when the listing is complete. */
  next: string | null;
}

/** Attribute changes. Only the fields present change. size is NOT here: see truncate(). */
export interface AttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: Timespec;
  mtime?: Timespec;
  /** Set by the caller (VFS) to the time of the change; every setattr bumps ctime. */
  ctime: Timespec;
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export interface RenameResult {
  /** Inode that was unlinked because the rename replaced it (its nlink after the rename), if any. */
  replaced?: { ino: number; nlink: number; isDir: boolean };
}

export interface UnlinkResult {
  ino: number;
  /** nlink after the unlink. 0 means the inode is now an orphan: call purgeInode() once no handle holds it. */
  nlink: number;
}

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/**
 * A slice: a run of bytes inside one chunk of a file, stored inside a block.
 * Chunk i of a file covers file bytes [i*chunkSize, (i+1)*chunkSize). Slices of a chunk are kept in
 * the order they were written; a later slice overrides earlier ones where they overlap. Bytes no
 * slice covers (holes) read as zeros.
 */
export interface Slice {
  /** Offset of the slice inside its chunk. */
  chunkOff: number;
  len: number;
  blockId: string;
  /** Offset of the slice's bytes inside the block's plaintext. */
  blockOff: number;
}

export interface ChunkWrite {
  chunk: number;
  slices: Slice[];
}

/** A block the store has not yet recorded, with its sizes (plaintext and stored/ciphertext). */
export interface NewBlock {
  id: string;
  size: number;
  storedSize: number;
}

export interface BlockRecord extends NewBlock {
  refs: number;
}

export interface MetaStats {
  /** Inodes in use (including orphans). */
  inodes: number;
  /** Sum of file sizes. */
  logicalBytes: number;
  /** Sum of all slice lengths (bytes referenced by files, holes excluded). */
  referencedBytes: number;
  /** Number of distinct blocks recorded. */
  blocks: number;
  /** Sum of plaintext sizes of distinct blocks. */
  blockBytes: number;
  /** Sum of stored (ciphertext) sizes of distinct blocks. */
  storedBytes: number;
}

export interface MetaStore {
  /** Create the schema and the root directory (ino 1) if the store is empty. Idempotent. */
  init(root: { mode: number; uid: number; gid: number; now: Timespec }): Promise<void>;
  close(): Promise<void>;
  /** Make every committed transaction durable against power loss (commits are already durable against a process crash). */
  sync(): Promise<void>;

  /** Small key/value settings table (volume id, format version...). */
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  getattr(ino: number): Promise<InodeAttr>;
  lookup(parent: number, name: string): Promise<InodeAttr | null>;
  /** One absolute path to the inode ('/' for the root), or null if it has no entry (orphan). */
  pathOf(ino: number): Promise<string | null>;
  /** Is `ancestor` the directory `ino` or one of its ancestors? O(1) via the closure table. */
  isAncestor(ancestor: number, ino: number): Promise<boolean>;

  /**
   * Create a file, directory, symlink, FIFO, socket or device node named `name` in `parent`.
   * EEXIST if the name exists, ENOENT if parent is gone, ENOTDIR if parent is not a directory,
   * ENAMETOOLONG over 255 bytes, EINVAL for '', '.', '..' or names with '/' or NUL. Updates the
   * parent's mtime/ctime (and nlink for a directory).
   */
  create(parent: number, name: string, node: NewInode): Promise<InodeAttr>;
  /** Hard link: ENOENT, EEXIST, EPERM for directories, EMLINK at the link limit. Bumps nlink, ctime. */
  link(ino: number, newParent: number, newName: string, now: Timespec): Promise<InodeAttr>;
  /** Remove a non-directory entry. EISDIR for a directory. Does not free the inode: see purgeInode. */
  unlink(parent: number, name: string, now: Timespec): Promise<UnlinkResult>;
  /** Remove an empty directory. ENOTDIR, ENOTEMPTY, EBUSY for the root. The inode is freed at once. */
  rmdir(parent: number, name: string, now: Timespec): Promise<void>;
  /**
   * rename/renameat2 with POSIX semantics in one transaction: replacing a file, a directory over an
   * empty directory (ENOTEMPTY otherwise), EISDIR/ENOTDIR for mismatched types, EINVAL when moving a
   * directory into its own subtree, renaming onto itself is a no-op; flags RENAME_NOREPLACE (EEXIST)
   * and RENAME_EXCHANGE (both must exist). A moved directory's subtree moves in one statement.
   */
  rename(parent: number, name: string, newParent: number, newName: string, flags: number, now: Timespec): Promise<RenameResult>;
  readlink(ino: number): Promise<string>;
  /**
   * One page of a directory's entries in a stable order (not including '.' and '..'). `withAttrs`:
   * every entry also carries its full attributes, read in the same query (READDIRPLUS, `ls -l`).
   */
  readdir(dir: number, cursor: string | null, limit: number, withAttrs?: boolean): Promise<DirPage>;
  setattr(ino: number, changes: AttrChanges): Promise<InodeAttr>;

  /**
   * Set the file size. Shrinking drops or trims the slices past the new size in the same
   * transaction (block refs drop accordingly); growing leaves a hole. Updates mtime/ctime to `now`.
   */
  truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr>;

  /** Inodes with nlink 0 (unlinked while open, or left by a crash). */
  listOrphans(): Promise<number[]>;
  /** Delete an inode with nlink 0, its slices (dropping block refs), xattrs and symlink target. */
  purgeInode(ino: number): Promise<void>;

  getxattr(ino: number, name: string): Promise<Buffer>; // ENODATA if absent
  /** flags: 0, XATTR_CREATE (EEXIST if present) or XATTR_REPLACE (ENODATA if absent). Bumps ctime. */
  setxattr(ino: number, name: string, value: Buffer, flags: number, now: Timespec): Promise<void>;
  listxattr(ino: number): Promise<string[]>;
  removexattr(ino: number, name: string, now: Timespec): Promise<void>; // ENODATA if absent

  /** Slices of chunks [first, last] of a file; chunks without slices are absent from the map. */
  readChunks(ino: number, first: number, last: number): Promise<Map<number, Slice[]>>;
  /**
   * Append slices to chunks of a file in one transaction: records `newBlocks` (refs 0 first if
   * absent), adds one ref per slice, sets size = max(size, minSize), and sets mtime = `mtime` and
   * ctime = `ctime` (default: `mtime`; a later attribute change, e.g. tar's chmod after writing,
   * gives a newer one to keep, in the same transaction). Every slice's block must be recorded
   * already or be in newBlocks (EIO otherwise).
   */
  commitSlices(
    ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime?: Timespec,
  ): Promise<InodeAttr>;
  /**
   * Compaction: replace the whole slice list of one chunk, only if it still has exactly
   * `expectedCount` slices (returns false otherwise, changing nothing). Refs move accordingly.
   */
  replaceChunk(ino: number, chunk: number, expectedCount: number, slices: Slice[], newBlocks: NewBlock[]): Promise<boolean>;

  getBlock(id: string): Promise<BlockRecord | null>;
  /** Blocks whose refs have been 0 since at least `olderThanMs` ago (epoch ms), at most `limit`. */
  unreferencedBlocks(olderThanMs: number, limit: number): Promise<string[]>;
  /** Forget blocks that still have refs = 0 (after the block store deleted them); returns the ids forgotten. */
  forgetBlocks(ids: string[]): Promise<string[]>;
  /** Every recorded block, in pages (for fsck and gc). */
  listBlocks(cursor: string | null, limit: number): Promise<{ blocks: BlockRecord[]; next: string | null }>;
  /** Inodes whose slices reference a block (for fsck reports). */
  inodesUsingBlock(id: string): Promise<number[]>;

  stats(): Promise<MetaStats>;
  /** Consistency check of the metadata alone; returns human-readable problems (empty = clean). */
  check(): Promise<string[]>;
}
