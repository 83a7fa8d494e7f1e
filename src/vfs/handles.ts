import { constants as fsc } from 'node:fs';
import { FsError } from '../errors.js';
import type { DirReader } from './DirReader.js';

export const O_ACCMODE = 3;

export interface FileHandle {
  readonly ino: number;
  readonly flags: number;
  readonly readable: boolean;
  readonly writable: boolean;
  /** O_APPEND: every write goes at the end of the file. */
  readonly append: boolean;
  /** O_NOATIME: reads leave atime alone. */
  readonly noatime: boolean;
}

export interface DirHandle {
  readonly ino: number;
  readonly reader: DirReader;
}

/** What a handle may do, from open(2) flags. EINVAL for an access mode of 3. */
export function handleModeOf(flags: number): { readable: boolean; writable: boolean } {
  const acc = flags & O_ACCMODE;
  if (acc === fsc.O_RDONLY) return { readable: true, writable: false };
  if (acc === fsc.O_WRONLY) return { readable: false, writable: true };
  if (acc === fsc.O_RDWR) return { readable: true, writable: true };
  throw new FsError('EINVAL', `invalid access mode in open flags ${flags}`);
}

/**
 * Open file and directory handles (one number space), and how many handles hold each inode:
 * an unlinked inode lives until its last holder lets go.
 */
export class HandleTable {
  private nextFh = 1;
  private readonly files = new Map<number, FileHandle>();
  private readonly dirs = new Map<number, DirHandle>();
  private readonly holders = new Map<number, number>();

  /** Count one more holder of an inode (before opening it, so a racing unlink sees it held). */
  hold(ino: number): void {
    this.holders.set(ino, (this.holders.get(ino) ?? 0) + 1);
  }

  /** Drop one holder; returns how many remain. */
  unhold(ino: number): number {
    const n = (this.holders.get(ino) ?? 0) - 1;
    if (n > 0) this.holders.set(ino, n);
    else this.holders.delete(ino);
    return Math.max(n, 0);
  }

  isHeld(ino: number): boolean {
    return this.holders.has(ino);
  }

  /** Register a file handle for an inode already held with hold(). */
  addFile(handle: FileHandle): number {
    const fh = this.nextFh++;
    this.files.set(fh, handle);
    return fh;
  }

  file(fh: number): FileHandle {
    const h = this.files.get(fh);
    if (!h) throw new FsError('EBADF', `no open file handle ${fh}`);
    return h;
  }

  /** Forget a file handle; the caller unholds its inode. */
  removeFile(fh: number): FileHandle {
    const h = this.file(fh);
    this.files.delete(fh);
    return h;
  }

  addDir(handle: DirHandle): number {
    const fh = this.nextFh++;
    this.dirs.set(fh, handle);
    return fh;
  }

  dir(fh: number): DirHandle {
    const h = this.dirs.get(fh);
    if (!h) throw new FsError('EBADF', `no open directory handle ${fh}`);
    return h;
  }

  removeDir(fh: number): DirHandle {
    const h = this.dir(fh);
    this.dirs.delete(fh);
    return h;
  }

  get openFiles(): number {
    return this.files.size;
  }
}
