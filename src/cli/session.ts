import { BlockCache } from '../data/BlockCache.js';
import { ChunkedFileData } from '../data/ChunkedFileData.js';
import type { DiskCache } from '../data/DiskCache.js';
import { openVolume, type Volume } from '../volume/Volume.js';
import { readConfig } from '../volume/config.js';
import { readLock } from '../volume/lock.js';
import { resolveSecret } from '../volume/secret.js';
import type { BlockStore } from '../block/BlockStore.js';
import { VolumeError } from '../errors.js';
import type { MetaStore } from '../meta/MetaStore.js';
import { loadSession } from '../remote/credentials.js';
import { openRemoteSession } from '../remote/session.js';
import { Vfs } from '../vfs/Vfs.js';
import { UsageError } from './errors.js';
import type { SecretOptions } from './secretOptions.js';
import { isServerUrl } from './target.js';

/** An open volume with its data layer and VFS: what every CLI verb (and the mount) drives. */
export interface VolumeSession {
  volume: Volume;
  data: ChunkedFileData;
  vfs: Vfs;
  /** Flush everything buffered, close the data layer and the volume (releasing its lock). Idempotent. */
  close(): Promise<void>;
}

/** Memory for the CLI's block cache: enough for read-ahead of a few blocks, small for a short-lived process. */
const CLI_CACHE_BYTES = 64 * 1024 * 1024;

export interface SessionOptions {
  /** Read-only VFS: no metadata writes at all (no atime updates, crash orphans left for fsck to see). */
  readonly?: boolean;
  /** Memory block cache bound (default 64 MiB). */
  cacheBytes?: number;
  /** Write buffer bound (default: the data layer's). */
  writeBufferBytes?: number;
  diskCache?: DiskCache;
}

/**
 * Open the volume at `dir` (taking its lock as `owner`, e.g. "cli put") and build the data layer and
 * VFS over it. The secret comes from --passphrase-file / --key-file, MOSAICFS_PASSPHRASE, or a prompt.
 */
export async function openVolumeSession(
  dir: string,
  secretOpts: SecretOptions,
  owner: string,
  opts: SessionOptions = {},
): Promise<VolumeSession> {
  if (isServerUrl(dir)) throw new UsageError(`${owner.replace(/^cli /, '')} works on a volume folder, not on a server (${dir})`);
  await readConfig(dir); // a mistyped volume path fails here, before anyone is asked for a passphrase
  const secret = await resolveSecret({ ...secretOpts, confirm: false });
  const volume = await openVolume(dir, { secret, lockOwner: owner }).catch(async (err: unknown) => {
    throw (await mountedError(dir, err)) ?? err;
  });
  let data: ChunkedFileData | undefined;
  try {
    const blockSize = volume.config.blockSize;
    data = new ChunkedFileData({
      meta: volume.meta,
      blocks: volume.blocks,
      codec: volume.codec,
      chunkSize: blockSize,
      cache: new BlockCache(opts.cacheBytes ?? CLI_CACHE_BYTES),
      writeBufferBytes: opts.writeBufferBytes,
      diskCache: opts.diskCache,
      closeWaitsForUpload: false, // one process owns the volume: close need not wait (closing the session does)
    });
    const vfs = new Vfs({ meta: volume.meta, data, blockSize, volumeDir: volume.dir, readonly: opts.readonly });
    await vfs.ready;
    return { volume, data, vfs, close: once(() => closeAll(vfs, data!, volume)) };
  } catch (err) {
    await data?.close().catch(() => {});
    await volume.close();
    throw err;
  }
}

async function closeAll(vfs: Vfs, data: ChunkedFileData, volume: Volume): Promise<void> {
  try {
    await vfs.shutdown();
    await data.close();
  } finally {
    await volume.close();
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

/** Open a session, run `fn`, and always close the session (flushing and unlocking) afterwards. */
export async function withVolumeSession<T>(
  dir: string,
  secretOpts: SecretOptions,
  owner: string,
  fn: (session: VolumeSession) => Promise<T>,
  opts: SessionOptions = {},
): Promise<T> {
  return runThenClose(await openVolumeSession(dir, secretOpts, owner, opts), fn);
}

const MOUNT_OWNER = 'mount ';

/** If the volume could not be opened because a mount holds it, say where it is mounted. */
async function mountedError(dir: string, err: unknown): Promise<VolumeError | null> {
  if (!(err instanceof VolumeError)) return null;
  const holder = await readLock(dir).catch(() => null);
  if (!holder || !holder.owner.startsWith(MOUNT_OWNER) || holder.pid === process.pid) return null;
  const mountpoint = holder.owner.slice(MOUNT_OWNER.length);
  return new VolumeError(`volume ${dir} is mounted at ${mountpoint}; use the mount, or unmount first`);
}

/**
 * What the file verbs (put, get, ls, cat, stat, mkdir, mv, rm, ln, df) need, from a volume folder
 * or from a server: the same VFS either way, plus the stores for space accounting.
 */
export interface TargetSession {
  vfs: Vfs;
  data: ChunkedFileData;
  meta: MetaStore;
  blocks: BlockStore;
  blockSize: number;
  close(): Promise<void>;
}

/**
 * `where` is a volume folder (its secret from --passphrase-file/--key-file, the environment or a
 * prompt) or a server URL (the saved `mosaicfs login` session: no secret asked).
 */
export async function openTargetSession(where: string, secretOpts: SecretOptions, owner: string, opts: SessionOptions = {}): Promise<TargetSession> {
  if (isServerUrl(where)) {
    const r = await openRemoteSession({
      url: where,
      cacheBytes: opts.cacheBytes ?? CLI_CACHE_BYTES,
      writeBufferBytes: opts.writeBufferBytes,
      diskCache: opts.diskCache,
      readonly: opts.readonly,
      events: false, // a short-lived command has no caches worth invalidating
    });
    const blockSize = (await loadSession(r.url, r.user)).blockSize;
    return { vfs: r.vfs, data: r.data, meta: r.meta, blocks: r.blocks, blockSize, close: () => r.close() };
  }
  const v = await openVolumeSession(where, secretOpts, owner, opts);
  return { vfs: v.vfs, data: v.data, meta: v.volume.meta, blocks: v.volume.blocks, blockSize: v.volume.config.blockSize, close: v.close };
}

/** openTargetSession, run `fn`, always close (flushing) afterwards. */
export async function withTargetSession<T>(
  where: string,
  secretOpts: SecretOptions,
  owner: string,
  fn: (session: TargetSession) => Promise<T>,
  opts: SessionOptions = {},
): Promise<T> {
  return runThenClose(await openTargetSession(where, secretOpts, owner, opts), fn);
}

/** Run `fn` on an open session and always close it (flushing) afterwards; a close error after a failure is dropped. */
async function runThenClose<S extends { close(): Promise<void> }, T>(session: S, fn: (session: S) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn(session);
  } catch (err) {
    await session.close().catch(() => {});
    throw err;
  }
  await session.close();
  return result;
}
