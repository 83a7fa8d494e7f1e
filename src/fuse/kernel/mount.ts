/**
 * Mounting and unmounting a /dev/fuse connection: mount(2) directly when we are root, otherwise
 * through the setuid fusermount3 helper, which mounts and hands the fd back over a socket
 * (_FUSE_COMMFD, SCM_RIGHTS), as libfuse's mount_util does.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fusedev } from './native.js';

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MNT_DETACH = 2;

export interface KernelMountOptions {
  fsname: string;
  subtype: string;
  allowOther: boolean;
  defaultPermissions: boolean;
  readonly: boolean;
}

/** Mount `mountpoint`; returns the /dev/fuse fd, already non-blocking. */
export function mountFuse(mountpoint: string, o: KernelMountOptions): number {
  const dev = fusedev();
  const fd = process.getuid?.() === 0 ? mountAsRoot(mountpoint, o) : mountWithFusermount(mountpoint, o);
  try {
    dev.setNonblock(fd);
  } catch (err) {
    dev.close(fd);
    throw err;
  }
  return fd;
}

function mountAsRoot(mountpoint: string, o: KernelMountOptions): number {
  const dev = fusedev();
  const fd = dev.openDev();
  const data = [`fd=${fd}`, 'rootmode=40000', `user_id=${process.getuid?.() ?? 0}`, `group_id=${process.getgid?.() ?? 0}`];
  if (o.allowOther) data.push('allow_other');
  if (o.defaultPermissions) data.push('default_permissions');
  const flags = MS_NOSUID | MS_NODEV | (o.readonly ? MS_RDONLY : 0);
  try {
    dev.mount(o.fsname, mountpoint, `fuse.${o.subtype}`, flags, data.join(','));
  } catch (err) {
    dev.close(fd);
    throw err;
  }
  return fd;
}

function mountWithFusermount(mountpoint: string, o: KernelMountOptions): number {
  const dev = fusedev();
  const [mine, theirs] = dev.socketpair();
  try {
    const opts = [`fsname=${o.fsname}`, `subtype=${o.subtype}`, 'nosuid', 'nodev'];
    if (o.allowOther) opts.push('allow_other');
    if (o.defaultPermissions) opts.push('default_permissions');
    if (o.readonly) opts.push('ro');
    const r = spawnSync('fusermount3', ['-o', opts.join(','), '--', mountpoint], {
      stdio: ['ignore', 'ignore', 'pipe', theirs],
      env: { ...process.env, _FUSE_COMMFD: '3' },
      encoding: 'utf8',
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`fusermount3 failed (${r.status}): ${r.stderr.trim()}`);
    return dev.recvFd(mine);
  } finally {
    dev.close(mine);
    dev.close(theirs);
  }
}

/** Detach the mount (lazily: open files keep the connection until closed). */
export async function unmountFuse(mountpoint: string): Promise<void> {
  if (process.getuid?.() === 0) {
    fusedev().umount(mountpoint, MNT_DETACH);
    return;
  }
  await promisify(execFile)('fusermount3', ['-u', '-z', '--', mountpoint]);
}
