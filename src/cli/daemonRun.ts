/**
 * The mount daemon proper (what `mosaicfs mount -f` runs, and what the background mode re-executes):
 * volume -> data layer -> VFS -> FUSE adapter, then stays until the mount goes away.
 *
 * Life cycle: SIGINT/SIGTERM/SIGHUP -> unmount (fusermount -u, lazily if busy), flush, close, exit 0.
 * An unmount from outside (`fusermount -u`, `umount`, `mosaicfs umount`) is noticed by polling
 * /proc/self/mountinfo (libfuse2 via fuse-native gives no event, and the process would otherwise
 * live forever), then the same flush/close/exit happens. Lazy unmounts (-z) detach at once, so
 * the daemon exits then too and files still open through the detached mount get ENOTCONN.
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BlockCache } from '../data/BlockCache.js';
import { ChunkedFileData } from '../data/ChunkedFileData.js';
import { checkCacheDir, DEFAULT_DISK_CACHE_BYTES, DiskCache } from '../data/DiskCache.js';
import { WrongPassphraseError } from '../errors.js';
import { FuseNativeAdapter } from '../fuse/FuseNativeAdapter.js';
import { KernelFuseAdapter } from '../fuse/KernelFuseAdapter.js';
import { findMount } from '../fuse/mountinfo.js';
import type { MountOptions } from '../fuse/mountOptions.js';
import { log } from '../util/log.js';
import { Vfs } from '../vfs/Vfs.js';
import { openVolume, type Volume } from '../volume/Volume.js';
import type { VolumeSecret } from '../volume/secret.js';
import { checkMountpoint, MountError } from './daemonChecks.js';
import { removeDaemonRecord, writeDaemonRecord } from './daemonRegistry.js';

const execFileP = promisify(execFile);

export interface DaemonParams {
  /** Absolute volume folder. */
  volumeDir: string;
  /** Canonical absolute mount point. */
  mountpoint: string;
  options: MountOptions;
  secret: VolumeSecret;
  /** Base folder of disk caches (this volume's is <cacheDir>/<volumeId>). */
  cacheDir?: string;
}

const WATCH_INTERVAL_MS = 500;
const GC_INTERVAL_MS = 30_000;
const MOUNT_TIMEOUT_MS = 60_000;
/** A disk cache folder must have at least this much free (or the whole cache size if smaller). */
const MIN_CACHE_FREE_BYTES = 64 * 1024 * 1024;

interface Running {
  volume: Volume;
  data: ChunkedFileData;
  vfs: Vfs;
  diskCache?: DiskCache;
}

/**
 * Mount and serve. Resolves once mounted (the daemon keeps running: it exits the process itself
 * when the mount ends). Throws MountError/VolumeError/WrongPassphraseError before mounting.
 */
export async function startDaemon(p: DaemonParams): Promise<void> {
  await checkMountpoint(p.mountpoint, p.options.nonempty);
  const running = await openParts(p);
  const adapter = p.options.binding === 'kernel'
    ? new KernelFuseAdapter({ vfs: running.vfs, mountpoint: p.mountpoint, options: p.options })
    : new FuseNativeAdapter({ vfs: running.vfs, mountpoint: p.mountpoint, options: p.options, debug: process.env.MOSAICFS_FUSE_DEBUG === '1' });
  try {
    await withTimeout(adapter.mount(), MOUNT_TIMEOUT_MS, 'the kernel did not answer the FUSE mount');
  } catch (err) {
    await closeParts(running).catch(() => undefined);
    throw new MountError(`cannot mount ${p.mountpoint}: ${(err as Error).message}`);
  }
  await writeDaemonRecord({ pid: process.pid, mountpoint: p.mountpoint, volumeDir: p.volumeDir, since: new Date().toISOString() });
  log.info({ volume: p.volumeDir, mountpoint: p.mountpoint }, 'mounted');
  superviseMount(p, running);
}

async function openParts(p: DaemonParams): Promise<Running> {
  let volume: Volume;
  try {
    volume = await openVolume(p.volumeDir, { secret: p.secret, lockOwner: `mount ${p.mountpoint}` });
  } catch (err) {
    if (err instanceof WrongPassphraseError) throw new MountError(`cannot mount ${p.volumeDir}: ${err.message}`);
    throw err;
  }
  let diskCache: DiskCache | undefined;
  try {
    const diskBytes = p.options.diskCacheSize ?? (p.cacheDir ? DEFAULT_DISK_CACHE_BYTES : 0);
    if (diskBytes > 0) {
      const dir = path.join(p.cacheDir ?? path.join(os.homedir(), '.cache', 'mosaicfs'), volume.config.volumeId);
      try {
        await checkCacheDir(dir, Math.min(diskBytes, MIN_CACHE_FREE_BYTES));
      } catch (err) {
        throw new MountError(`unusable disk cache: ${(err as Error).message}`);
      }
      diskCache = await DiskCache.open(dir, diskBytes);
    }
    const blockSize = volume.config.blockSize;
    const data = new ChunkedFileData({
      meta: volume.meta,
      blocks: volume.blocks,
      codec: volume.codec,
      chunkSize: blockSize,
      cache: new BlockCache(p.options.cacheSize),
      diskCache,
      writeBufferBytes: p.options.writeBuffer,
    });
    const vfs = new Vfs({ meta: volume.meta, data, blockSize, volumeDir: volume.dir, readonly: p.options.readonly });
    return { volume, data, vfs, diskCache };
  } catch (err) {
    await diskCache?.close().catch(() => undefined);
    await volume.close().catch(() => undefined);
    throw err;
  }
}

async function closeParts(r: Running): Promise<void> {
  try {
    await r.vfs.shutdown();
    await r.data.close(); // also closes the disk cache
  } finally {
    await r.volume.close();
  }
}

function superviseMount(p: DaemonParams, running: Running): void {
  let stopping = false;
  let gcRunning = false;

  const stop = async (reason: string, unmount: boolean): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    clearInterval(gc);
    log.info({ reason }, 'unmounting');
    let code = 0;
    try {
      if (unmount) await unmountSelf(p.mountpoint);
      await closeParts(running);
      log.info('flushed and closed; exiting');
    } catch (err) {
      code = 1;
      log.error({ err }, 'error while stopping the mount');
    }
    await removeDaemonRecord(p.mountpoint, process.pid).catch(() => undefined);
    process.exit(code);
  };

  const watch = setInterval(() => {
    findMount(p.mountpoint).then(
      (m) => { if (!m) void stop('the mount went away (unmounted from outside)', false); },
      (err: unknown) => log.warn({ err }, 'cannot read /proc/self/mountinfo'),
    );
  }, WATCH_INTERVAL_MS);

  const gc = setInterval(() => {
    if (gcRunning || stopping) return;
    gcRunning = true;
    running.data.collectGarbage().then(
      (r) => { if (r.deleted > 0) log.info(r, 'garbage collected'); },
      (err: unknown) => log.warn({ err }, 'garbage collection failed'),
    ).finally(() => { gcRunning = false; });
  }, GC_INTERVAL_MS);
  gc.unref();

  // As libfuse's own handlers do: SIGHUP (terminal gone, for -f) ends the mount like SIGINT/SIGTERM.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(`received ${sig}`, true));
}

/** Unmount our own mount point; a busy mount is detached lazily (we are going away regardless). */
async function unmountSelf(mnt: string): Promise<void> {
  if (!(await findMount(mnt))) return;
  try {
    await execFileP('fusermount', ['-u', mnt]);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'fusermount -u failed; detaching lazily');
    await execFileP('fusermount', ['-u', '-z', mnt]);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
