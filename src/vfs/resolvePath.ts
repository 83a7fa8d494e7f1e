import { FsError } from '../errors.js';
import { S_IFLNK, S_IFMT, type InodeAttr } from '../meta/MetaStore.js';
import { MAX_SYMLINKS, PATH_MAX } from './limits.js';
import { checkName } from './names.js';
import { checkSearch, isDir } from './permissions.js';
import type { Ctx } from './types.js';

/** What a path walk needs from the file system (no permission checks: the walk does them). */
export interface PathWalkSource {
  root(): Promise<InodeAttr>;
  /** The child named `name` of a directory, or null. */
  child(dir: number, name: string): Promise<InodeAttr | null>;
  readlink(ino: number): Promise<string>;
}

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

/**
 * Resolve an absolute path as the kernel's path walk does: search permission on every directory
 * walked, '.' and '..' (the root's '..' is the root), symlinks followed in intermediate
 * components (and at the end when the path ends with '/'), ELOOP after MAX_SYMLINKS. The
 * directories walked are kept on a stack, so '..' after a symlink goes to the target's parent.
 */
export async function walkPath(ctx: Ctx, path: string, src: PathWalkSource): Promise<InodeAttr> {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new FsError('EINVAL', `not an absolute path: ${JSON.stringify(path)}`);
  if (path.includes('\0')) throw new FsError('EINVAL', 'path contains NUL');
  if (Buffer.byteLength(path, 'utf8') >= PATH_MAX) throw new FsError('ENAMETOOLONG', `path longer than ${PATH_MAX - 1} bytes`);
  const mustBeDir = path.length > 1 && path.endsWith('/');
  let pending = components(path);
  const stack: InodeAttr[] = [await src.root()];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    const dir = stack[stack.length - 1];
    checkSearch(ctx, dir);
    const kind = checkName(name);
    if (kind === 'dot') continue;
    if (kind === 'dotdot') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const attr = await src.child(dir.ino, name);
    if (!attr) throw new FsError('ENOENT', `${JSON.stringify(name)} not found in ${path}`);
    const isLink = (attr.mode & S_IFMT) === S_IFLNK;
    if (isLink && (pending.length > 0 || mustBeDir)) {
      if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', `too many symlinks in ${path}`);
      const target = await src.readlink(attr.ino);
      if (target.startsWith('/')) stack.length = 1;
      pending = [...components(target), ...pending];
      continue;
    }
    stack.push(attr);
  }
  const result = stack[stack.length - 1];
  if (mustBeDir && !isDir(result)) throw new FsError('ENOTDIR', `${path}: not a directory`);
  return result;
}
