import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'other';

export function typeOf(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/** The stat fields two POSIX file systems must agree on (not ino/dev, atime, ctime, blocks, dir sizes). */
export interface PortableStat {
  type: EntryType;
  mode: string;
  nlink: number;
  uid: number;
  gid: number;
  /** Regular files and symlinks only: directory sizes are file system specific. */
  size?: number;
}

export function portableStat(st: Stats): PortableStat {
  const type = typeOf(st);
  const out: PortableStat = { type, mode: (st.mode & 0o7777).toString(8), nlink: st.nlink, uid: st.uid, gid: st.gid };
  if (type === 'file' || type === 'symlink') out.size = st.size;
  return out;
}

export interface TreeEntry extends PortableStat {
  path: string;
  /** sha256 of a regular file's contents. */
  sha256?: string;
  /** A symlink's target. */
  target?: string;
}

/** Every entry under root (not root itself), sorted by path, with portable stat fields and contents. Never opens FIFOs. */
export async function snapshotTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(path.join(root, rel))).sort();
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, relPath);
      const st = await lstat(abs);
      const entry: TreeEntry = { path: relPath, ...portableStat(st) };
      if (entry.type === 'file') entry.sha256 = createHash('sha256').update(await readFile(abs)).digest('hex');
      if (entry.type === 'symlink') entry.target = await readlink(abs);
      out.push(entry);
      if (entry.type === 'dir') await walk(relPath);
    }
  }
  await walk('');
  return out;
}
