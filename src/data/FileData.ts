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
  /** Time of the last buffered write (becomes mtime/ctime on commit). */
  mtime: Timespec;
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
  /** Upload buffered data of one file and commit its slices. */
  flush(ino: number): Promise<void>;
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
