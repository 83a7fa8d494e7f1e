/**
 * The mount daemon proper (what `mosaicfs mount -f` runs, and what the background mode re-executes):
 * volume -> data layer -> VFS -> FUSE adapter, then stays until the mount goes away. A server URL
 * as the source opens the saved remote session instead (src/remote/session.ts): its VFS gets the
 * control folder (/.mosaicfs, src/vfs/ControlFolder.ts) and the FUSE adapter becomes the session's
 * cache invalidator (changes pushed by the server reach the kernel's caches). GC is the server's.
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
import type { CacheInvalidator } from '../vfs/OpenLeases.js';
import type { VfsApi } from '../vfs/types.js';
import { Vfs } from '../vfs/Vfs.js';
import { openVolume } from '../volume/Volume.js';
import type { VolumeSecret } from '../volume/secret.js';
import { checkMountpoint, MountError } from './daemonChecks.js';
import { openRemoteSession } from '../remote/session.js';
import { loadSession } from '../remote/credentials.js';
import { ControlFolder } from '../vfs/ControlFolder.js';
import { removeDaemonRecord, writeDaemonRecord } from './daemonRegistry.js';

const execFileP = promisify(execFile);

export interface DaemonParams {
  /** Absolute volume folder, or a server URL (http(s)://host:port) for a remote mount. */
  volumeDir: string;
  /** Canonical absolute mount point. */
  mountpoint: string;
  options: MountOptions;
  /** The volume's secret; null for a server (the saved login session holds what is needed). */
  secret: VolumeSecret | null;
  /** Which saved session of the server (when several users are logged in). */
  user?: string;
  /** Base folder of disk caches (this volume's is <cacheDir>/<volumeId>). */
  cacheDir?: string;
}

const WATCH_INTERVAL_MS = 500;
const GC_INTERVAL_MS = 30_000;
const MOUNT_TIMEOUT_MS = 60_000;
/** A disk cache folder must have at least this much free (or the whole cache size if smaller). */
const MIN_CACHE_FREE_BYTES = 64 * 1024 * 1024;

/** What a mount serves, whatever its source: a VFS, how to close it, and optional hooks. */
export interface Running {
  vfs: VfsApi;
  /** Flush, close the data layer and release the source (volume lock / server session). */
  close(): Promise<void>;
  /** Background garbage collection (embedded volumes only; a server collects its own). */
  collectGarbage?(): Promise<{ deleted: number; bytes: number }>;
  /** Register the FUSE adapter to hear about changes made by other clients (remote mounts). */
  setInvalidator?(inv: CacheInvalidator): void;
}

/**
 * Mount and serve. Resolves once mounted (the daemon keeps running: it exits the process itself
 * when the mount ends). Throws MountError/VolumeError/WrongPassphraseError before mounting.
 */
export async function startDaemon(p: DaemonParams): Promise<void> {
  await checkMountpoint(p.mountpoint, p.options.nonempty);
  const running = isServer(p.volumeDir) ? await openServerMount(p) : await openParts(p);
  const adapter = p.options.binding === 'kernel'
    ? new KernelFuseAdapter({ vfs: running.vfs, mountpoint: p.mountpoint, options: p.options })
    : new FuseNativeAdapter({ vfs: running.vfs, mountpoint: p.mountpoint, options: p.options, debug: process.env.MOSAICFS_FUSE_DEBUG === '1' });
  try {
    await withTimeout(adapter.mount(), MOUNT_TIMEOUT_MS, 'the kernel did not answer the FUSE mount');
  } catch (err) {
    await running.close().catch(() => undefined);
    throw new MountError(`cannot mount ${p.mountpoint}: ${(err as Error).message}`);
  }
  // fuse-native (libfuse2 high-level API) has no invalidation: its caches then live out their timeouts.
  if (adapter instanceof KernelFuseAdapter) running.setInvalidator?.(adapter);
  await writeDaemonRecord({ pid: process.pid, mountpoint: p.mountpoint, volumeDir: p.volumeDir, since: new Date().toISOString() });
  log.info({ volume: p.volumeDir, mountpoint: p.mountpoint }, 'mounted');
  superviseMount(p, running);
}

const isServer = (source: string) => /^https?:\/\//i.test(source);

async function openParts(p: DaemonParams): Promise<Running> {
  if (!p.secret) throw new MountError(`cannot mount ${p.volumeDir}: no passphrase or key given`);
  let volume;
  try {
    volume = await openVolume(p.volumeDir, { secret: p.secret, lockOwner: `mount ${p.mountpoint}` });
  } catch (err) {
    if (err instanceof WrongPassphraseError) throw new MountError(`cannot mount ${p.volumeDir}: ${err.message}`);
    throw err;
  }
  let diskCache: DiskCache | undefined;
  try {
    diskCache = await openDiskCache(p, volume.config.volumeId, false);
    const blockSize = volume.config.blockSize;
    const data = new ChunkedFileData({
      meta: volume.meta,
      blocks: volume.blocks,
      codec: volume.codec,
      chunkSize: blockSize,
      cache: new BlockCache(p.options.cacheSize),
      diskCache,
      writeBufferBytes: p.options.writeBuffer,
      closeWaitsForUpload: false, // one process owns the volume: close need not wait (fsync does)
      writebackDelayMs: p.options.writebackDelay * 1000,
    });
    const vfs = new Vfs({ meta: volume.meta, data, blockSize, volumeDir: volume.dir, readonly: p.options.readonly });
    const opened = volume;
    return {
      vfs,
      collectGarbage: () => data.collectGarbage(),
      close: async () => {
        try {
          await vfs.shutdown();
          await data.close(); // also closes the disk cache
        } finally {
          await opened.close();
        }
      },
    };
  } catch (err) {
    await diskCache?.close().catch(() => undefined);
    await volume.close().catch(() => undefined);
    throw err;
  }
}

/**
 * A server as the source: the saved login session (token + volume key) -> remote session, whose VFS
 * gets the control folder. The disk cache is off unless asked for (two mounts of one user on one
 * machine would otherwise share one cache folder).
 */
async function openServerMount(p: DaemonParams): Promise<Running> {
  const saved = await loadSession(p.volumeDir, p.user).catch((err: unknown) => {
    throw new MountError(notLoggedInMessage(p.volumeDir, err));
  });
  const diskCache = await openDiskCache(p, saved.volumeId, false);
  let session;
  try {
    session = await openRemoteSession({
      url: saved.url,
      user: saved.user,
      cacheBytes: p.options.cacheSize,
      writeBufferBytes: p.options.writeBuffer,
      diskCache,
      readonly: p.options.readonly,
    });
  } catch (err) {
    await diskCache?.close().catch(() => undefined);
    throw err;
  }
  const remote = session;
  return {
    vfs: new ControlFolder(remote.vfs, remote),
    close: () => remote.close(), // flushes, closes the data layer (and its disk cache), releases leases
    setInvalidator: (inv) => remote.setInvalidator(inv),
  };
}

/** What `mount URL` says without a saved login for that server. */
export function notLoggedInMessage(url: string, err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  if (/not logged in/i.test(msg)) return `not logged in: run mosaicfs login ${url} --user NAME`;
  return `cannot mount ${url}: ${msg}`;
}

/** The disk cache a mount asked for (-o disk_cache_size / --cache-dir), in <base>/<volumeId>; undefined when off. */
export async function openDiskCache(p: DaemonParams, volumeId: string, defaultOn: boolean): Promise<DiskCache | undefined> {
  const diskBytes = p.options.diskCacheSize ?? (p.cacheDir || defaultOn ? DEFAULT_DISK_CACHE_BYTES : 0);
  if (diskBytes <= 0) return undefined;
  const dir = path.join(p.cacheDir ?? path.join(os.homedir(), '.cache', 'mosaicfs'), volumeId);
  try {
    await checkCacheDir(dir, Math.min(diskBytes, MIN_CACHE_FREE_BYTES));
  } catch (err) {
    throw new MountError(`unusable disk cache: ${(err as Error).message}`);
  }
  return DiskCache.open(dir, diskBytes);
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
      await running.close();
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
    if (gcRunning || stopping || !running.collectGarbage) return;
    gcRunning = true;
    running.collectGarbage().then(
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
