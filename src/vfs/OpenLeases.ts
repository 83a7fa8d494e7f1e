/**
 * Open files as other clients of a shared volume must know them (remote mounts). The VFS calls
 * acquire when a handle opens an inode and release when it closes; the embedded volume has none.
 * acquire throws FsError('EBUSY') when `write` is asked and another client holds the file's write
 * lease (the two-writers rule, ARCHITECTURE.md). Implementations count local handles and only
 * talk to the server on the first open / last close.
 */
export interface OpenLeases {
  acquire(ino: number, write: boolean): Promise<void>;
  release(ino: number, write: boolean): Promise<void>;
}

/**
 * Caches outside the VFS that must forget something another client changed: the kernel's
 * attribute, entry and page caches (the FUSE adapter implements it with NOTIFY_INVAL_*).
 */
export interface CacheInvalidator {
  /** Attributes and cached pages of an inode are stale. */
  inode(ino: number): void;
  /** The entry `name` in directory `parent` is stale (it may now be absent or another inode). */
  entry(parent: number, name: string): void;
}
