import { FsError } from '../errors.js';
import { S_IFDIR, S_IFLNK, S_IFMT, type InodeAttr } from '../meta/MetaStore.js';
import { ROOT_CTX, type ReaddirEntry, type VfsApi } from '../vfs/types.js';
import { UsageError } from './errors.js';

/** Paths inside a volume: absolute, no NUL; '..' is left for the VFS to resolve. */
export function checkVolumePath(path: string): string {
  if (path.includes('\0')) throw new UsageError(`path contains a NUL byte: ${JSON.stringify(path)}`);
  if (!path.startsWith('/')) throw new UsageError(`path inside a volume must be absolute: ${JSON.stringify(path)}`);
  return path;
}

/** '/a/b/' -> { dir: '/a', name: 'b' }; the root gives name ''. */
export function splitPath(path: string): { dir: string; name: string } {
  const trimmed = checkVolumePath(path).replace(/\/+$/, '');
  if (trimmed === '') return { dir: '/', name: '' };
  const slash = trimmed.lastIndexOf('/');
  return { dir: trimmed.slice(0, slash) || '/', name: trimmed.slice(slash + 1) };
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function isDir(attr: InodeAttr): boolean {
  return (attr.mode & S_IFMT) === S_IFDIR;
}

/** Resolve a path to its inode; null if it does not exist. */
export async function tryResolve(vfs: VfsApi, path: string): Promise<InodeAttr | null> {
  try {
    return await vfs.resolve(ROOT_CTX, checkVolumePath(path));
  } catch (err) {
    if (err instanceof FsError && err.code === 'ENOENT') return null;
    throw err;
  }
}

/** The directory that holds (or will hold) `path`, and the entry name. EINVAL for '', '.', '..'. */
export async function resolveParent(vfs: VfsApi, path: string): Promise<{ parent: InodeAttr; name: string }> {
  const { dir, name } = splitPath(path);
  if (name === '' || name === '.' || name === '..') {
    throw new FsError('EINVAL', `${path}: needs a path ending in a file name`);
  }
  const parent = await vfs.resolve(ROOT_CTX, dir);
  if (!isDir(parent)) throw new FsError('ENOTDIR', `${dir}: not a directory`);
  return { parent, name };
}

/** Every entry of a directory except '.' and '..'. */
export async function listDir(vfs: VfsApi, ino: number): Promise<ReaddirEntry[]> {
  const fh = await vfs.opendir(ROOT_CTX, ino);
  try {
    const out: ReaddirEntry[] = [];
    let offset = 0;
    for (;;) {
      const page = await vfs.readdir(ROOT_CTX, fh, offset, 1024);
      if (page.length === 0) break;
      for (const e of page) if (e.name !== '.' && e.name !== '..') out.push(e);
      offset = page[page.length - 1].next;
    }
    return out;
  } finally {
    await vfs.releasedir(ROOT_CTX, fh);
  }
}

/** The invoking user, who owns what the CLI creates (operations themselves run as ROOT_CTX). */
export function invokingOwner(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

const MAX_SYMLINK_HOPS = 40;

/** Resolve a path following a symlink at the last component too (what open(2) does). */
export async function resolveFollow(vfs: VfsApi, path: string): Promise<InodeAttr> {
  let current = checkVolumePath(path);
  for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
    const attr = await vfs.resolve(ROOT_CTX, current);
    if ((attr.mode & S_IFMT) !== S_IFLNK) return attr;
    const target = await vfs.readlink(ROOT_CTX, attr.ino);
    current = target.startsWith('/') ? target : joinPath(splitPath(current).dir, target);
  }
  throw new FsError('ELOOP', `${path}: too many levels of symbolic links`);
}
