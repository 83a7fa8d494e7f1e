/**
 * libfuse2 (high-level API, without hard_remove) "unlinks" an open file by renaming it to
 * .fuse_hiddenXXXXXXXXXXXXXXXX and unlinks that name after the last release. Passed through, the
 * hidden name would show in readdir, fstat would report nlink 1, and the parent would change twice.
 *
 * We do not mount with hard_remove, although it would avoid the rename: libfuse2 then has no path
 * for the unlinked file, and a GETATTR without a file handle (the kernel sends one for fstat) fails
 * with ENOENT inside libfuse, before it reaches us. So instead the adapter turns the hiding rename
 * into a real unlink (the VFS keeps the inode alive, nlink 0, until its last handle is released)
 * and this resolver maps the hidden path to the inode, so libfuse's later calls on that path
 * (getattr for fstat, fchmod, ...) reach the right inode; the final unlink of the hidden name
 * only forgets the mapping.
 */
import type { Ctx, InodeAttr, VfsApi } from '../vfs/types.js';
import { PathResolver } from './PathResolver.js';

/** libfuse2's hidden_name(): ".fuse_hidden%08x%08x" (node id, counter). */
const HIDDEN_NAME = /\/\.fuse_hidden[0-9a-f]{16}$/;

export function isHiddenPath(path: string): boolean {
  return HIDDEN_NAME.test(path);
}

export class HidingPathResolver extends PathResolver {
  private readonly hidden = new Map<string, number>();

  constructor(private readonly fs: VfsApi, private readonly caller: Ctx) {
    super(fs, caller);
  }

  /** Record that libfuse now calls inode `ino` by the hidden path. */
  hide(path: string, ino: number): void {
    this.hidden.set(path, ino);
  }

  /** Does the folder at `dir` directly hold a hidden (open, unlinked) file? */
  holdsHidden(dir: string): boolean {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const p of this.hidden.keys()) if (p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) return true;
    return false;
  }

  /** Forget a hidden path; false if it was not one. */
  unhide(path: string): boolean {
    return this.hidden.delete(path);
  }

  override async ino(path: string): Promise<number> {
    return this.hidden.get(path) ?? super.ino(path);
  }

  override async attr(path: string): Promise<InodeAttr> {
    const ino = this.hidden.get(path);
    return ino === undefined ? super.attr(path) : this.fs.getattr(this.caller, ino);
  }
}
