/**
 * `mosaicfs umount`: unmount (fusermount -u, or umount(8) as root if fusermount cannot), then wait
 * until the daemon has flushed and exited, so everything written is in the volume when we return.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isProcessAlive } from '../util/processAlive.js';
import { findMount } from '../fuse/mountinfo.js';
import { readLock } from '../volume/lock.js';
import { canonicalMountpoint, MountError } from './daemonChecks.js';
import { readDaemonRecord } from './daemonRegistry.js';

const execFileP = promisify(execFile);
const POLL_MS = 50;

export interface UmountOptions {
  lazy?: boolean;
  /** How long to wait for the daemon to finish flushing, ms. */
  timeoutMs?: number;
}

export async function umount(mnt: string, opts: UmountOptions = {}): Promise<void> {
  const mountpoint = await canonicalMountpoint(mnt);
  const mounted = await findMount(mountpoint);
  const daemonPid = await findDaemonPid(mountpoint);
  if (!mounted && daemonPid === null) throw new MountError(`${mnt} is not mounted`);
  if (mounted) await unmountKernel(mountpoint, mnt, opts.lazy ?? false);
  if (daemonPid !== null) await waitForExit(daemonPid, opts.timeoutMs ?? 300_000, mnt);
}

/** The daemon serving this mount point: the volume lock's holder if it names this mount, else the record's pid. */
async function findDaemonPid(mountpoint: string): Promise<number | null> {
  const rec = await readDaemonRecord(mountpoint);
  if (!rec) return null;
  const lock = await readLock(rec.volumeDir).catch(() => null);
  const pid = lock && lock.owner === `mount ${mountpoint}` ? lock.pid : rec.pid;
  return (await isRunning(pid)) ? pid : null;
}

/** Alive and not a zombie (an exited daemon whose parent has not reaped it yet counts as gone). */
export async function isRunning(pid: number): Promise<boolean> {
  if (!isProcessAlive(pid)) return false;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function unmountKernel(mountpoint: string, shown: string, lazy: boolean): Promise<void> {
  const fuseArgs = lazy ? ['-u', '-z', mountpoint] : ['-u', mountpoint];
  let fuseErr: string;
  try {
    await execFileP('fusermount', fuseArgs);
    return;
  } catch (err) {
    fuseErr = errorText(err);
  }
  if (/busy/i.test(fuseErr)) {
    throw new MountError(`cannot unmount ${shown}: it is busy (files or folders in it are in use); close them, or use --lazy`);
  }
  if (process.getuid?.() === 0) {
    try {
      await execFileP('umount', lazy ? ['-l', mountpoint] : [mountpoint]);
      return;
    } catch (err) {
      const text = errorText(err);
      if (/busy/i.test(text)) throw new MountError(`cannot unmount ${shown}: it is busy; close open files, or use --lazy`);
      throw new MountError(`cannot unmount ${shown}: ${text}`);
    }
  }
  throw new MountError(`cannot unmount ${shown}: ${fuseErr}`);
}

async function waitForExit(pid: number, timeoutMs: number, shown: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) {
      throw new MountError(
        `${shown} is unmounted, but its daemon (pid ${pid}) is still flushing after ${Math.round(timeoutMs / 1000)} s; it keeps going in the background`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function errorText(err: unknown): string {
  const e = err as { stderr?: string; message?: string; code?: string };
  if (e.code === 'ENOENT') return 'fusermount is not installed';
  return (e.stderr || e.message || String(err)).trim().split('\n')[0];
}
