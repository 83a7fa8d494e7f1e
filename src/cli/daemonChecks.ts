/** Checks before mounting; each failure is a MountError whose message a user can act on. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { findMount } from '../fuse/mountinfo.js';

export class MountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountError';
  }
}

const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A SOURCE that is a URL names a server: its origin (http(s)://host:port) is returned; a local
 * volume folder gives null. Other schemes, paths and queries are refused.
 */
export function serverSource(source: string): string | null {
  if (!ANY_URL.test(source)) return null;
  let u: URL;
  try {
    u = new URL(source);
  } catch {
    throw new MountError(`cannot mount ${source}: not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new MountError(`cannot mount ${source}: only http:// and https:// servers can be mounted`);
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
    throw new MountError(`cannot mount ${source}: give the server as http(s)://host:port, without a path`);
  }
  return u.origin;
}

/**
 * Absolute, symlink-free form of a mount point as /proc/self/mountinfo spells it. Only the parent
 * is resolved, so a dead FUSE mount (ENOTCONN on the path itself) still resolves.
 */
export async function canonicalMountpoint(mnt: string): Promise<string> {
  const abs = path.resolve(mnt);
  if (abs === '/') return abs;
  try {
    return path.join(await fs.realpath(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

/** The mount point must be an existing, empty (unless allowed) directory that is not mounted on. */
export async function checkMountpoint(mnt: string, allowNonEmpty: boolean): Promise<void> {
  let st;
  try {
    st = await fs.stat(mnt);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MountError(`mountpoint ${mnt} does not exist; create it first (mkdir ${mnt})`);
    if (code === 'ENOTCONN') {
      throw new MountError(`mountpoint ${mnt} is a dead mount (transport endpoint is not connected); run \`mosaicfs umount ${mnt}\` first`);
    }
    throw new MountError(`cannot use mountpoint ${mnt}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new MountError(`mountpoint ${mnt} is not a directory`);
  const mounted = await findMount(mnt);
  if (mounted) throw new MountError(`${mnt} is already a mount point (${mounted.fsType} from ${mounted.source}); unmount it first`);
  if (!allowNonEmpty) {
    const entries = await fs.readdir(mnt).catch((err: Error) => {
      throw new MountError(`cannot read mountpoint ${mnt}: ${err.message}`);
    });
    if (entries.length > 0) {
      throw new MountError(`mountpoint ${mnt} is not empty; use an empty folder, or -o nonempty to hide its contents while mounted`);
    }
  }
}
