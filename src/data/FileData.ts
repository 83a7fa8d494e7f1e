import type { InodeAttr, Timespec } from '../meta/MetaStore.js';

/**
 * FileData: the client's data layer for file contents, between the VFS and the MetaStore/BlockStore.
 * Files are cut into chunks of `chunkSize` bytes (the volume's block size). Writes are buffered per
 * file and uploaded as sealed blocks on flush/fsync/release or when the buffer bound is reached;
 * each upload appends slices (see MetaStore.Slice) instead of rewriting whole blocks; chunks with
 * many slices are compacted in the background. Reads fetch only the blocks they touch, through a
 * bounded cache, with sequential read-ahead; buffered (not yet uploaded) bytes are visible to reads.
 * All operations on one inode are serialised; different inodes proceed in parallel.
 */
export interface PendingState {
  /** Logical size including buffered writes and truncations not yet committed. */
  size: number;
  /**
   * mtime the buffered data commits with: the time of the last buffered write, or an mtime set
   * explicitly after it (utimens through setattr below).
   */
  mtime: Timespec;
  /** Time of the last buffered write or truncation: the file's ctime is at least this. */
  changed: Timespec;
  /** Bytes buffered (dirty or uploading), for st_blocks before they commit. */
  bytes: number;
}

export interface FileData {
  /**
   * Read up to `length` bytes at `offset` of a file whose logical size is `size` (what the VFS
   * reports); returns fewer bytes only at end of file. Holes read as zeros.
   */
  read(ino: number, offset: number, length: number, size: number): Promise<Buffer>;
  /** Buffer a write (may wait for buffer space: back-pressure, never silent loss). */
  write(ino: number, offset: number, data: Uint8Array, now: Timespec): Promise<void>;
  /** Buffered state of a file, or null if nothing is buffered for it. */
  pending(ino: number): PendingState | null;
  /** Set the size (shrink or grow) consistently with buffered data; commits to the MetaStore. */
  truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr>;
  /**
   * Upload buffered data of one file and commit its slices; waits for all of it. Reports (once) an
   * error of a background upload of this file that nobody was told about yet.
   */
  flush(ino: number): Promise<void>;
  /**
   * What close (FUSE FLUSH/RELEASE) does: `flush`, or, in write-back mode (closeWaitsForUpload
   * false), start the upload in the background and return at once; a background failure is
   * remembered and reported by the next flush/fsync/close of the file. Both report a remembered error,
   * unless `report` is false (RELEASE, whose answer nobody hears): the error then stays remembered
   * for the file's next flush/fsync instead of being consumed.
   */
  flushOnClose(ino: number, report?: boolean): Promise<void>;
  /**
   * Whether flushOnClose waits until the data is committed (close-to-open consistency for other
   * clients); false in write-back mode.
   */
  readonly closeWaitsForUpload: boolean;
  /**
   * Apply an attribute change (`apply`: the MetaStore setattr) without waiting for buffered data:
   * it runs under the file's data lock, and buffered data then commits with the explicitly set
   * `mtime` (if given) and leaves the ctime `apply` set, so a later commit never undoes it.
   */
  setattr(ino: number, mtime: Timespec | undefined, apply: () => Promise<InodeAttr>): Promise<InodeAttr>;
  /**
   * Before a purge: forget buffered bytes of the file and wait for its uploads already under way
   * (they commit, so their blocks are recorded and freed by the purge, never left unrecorded).
   */
  discard(ino: number): Promise<void>;
  /** flush, then make data and metadata durable (BlockStore.sync + MetaStore.sync). */
  fsync(ino: number): Promise<void>;
  /** Another client changed the file: forget cached slice lists (buffered writes stay). */
  invalidate(ino: number): void;
  /** Forget everything buffered or cached for an inode that was purged. */
  drop(ino: number): void;
  /** Flush every file (unmount, buffer pressure). */
  flushAll(): Promise<void>;
  /** Free blocks with no references (older than the grace period). Returns how many were deleted. */
  collectGarbage(opts?: { graceMs?: number }): Promise<{ deleted: number; bytes: number }>;
  close(): Promise<void>;
}
