import { statfs as diskStatfs } from 'node:fs/promises';
import { NAME_MAX } from '../meta/names.js';
import type { MetaStore } from '../meta/MetaStore.js';
import type { StatFs } from './types.js';

const BSIZE = 4096;
/** Inode numbers are not a scarce resource here; when the disk reports no inode figures, offer this many. */
const VIRTUAL_INODES = 2 ** 32;

/**
 * statfs figures: space from the disk that holds the volume's blocks (in 4 KiB units), inodes in
 * use from the MetaStore plus the disk's free inode count (or a virtual pool when the disk, like
 * btrfs, reports none).
 */
export async function volumeStatfs(meta: MetaStore, dir: string): Promise<StatFs> {
  const [disk, stats] = await Promise.all([diskStatfs(dir), meta.stats()]);
  const scale = (n: number): number => Math.floor((n * disk.bsize) / BSIZE);
  const ffree = disk.ffree > 0 ? disk.ffree : Math.max(VIRTUAL_INODES - stats.inodes, 0);
  return {
    bsize: BSIZE,
    frsize: BSIZE,
    blocks: scale(disk.blocks),
    bfree: scale(disk.bfree),
    bavail: scale(disk.bavail),
    files: stats.inodes + ffree,
    ffree,
    namemax: NAME_MAX,
  };
}
