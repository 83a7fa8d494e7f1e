import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { VolumeError } from '../errors.js';
import type { BlockStore } from '../block/BlockStore.js';
import { openBlockStore } from '../block/openBlockStore.js';
import type { BlockCodec } from '../crypto/BlockCodec.js';
import { AesGcmBlockCodec } from '../crypto/AesGcmBlockCodec.js';
import { deriveBlockKeys, generateVolumeKey, unwrapVolumeKey, wrapVolumeKey } from '../crypto/keys.js';
import { S_IFDIR, type MetaStore } from '../meta/MetaStore.js';
import { SqliteMetaStore } from '../meta/sqlite/SqliteMetaStore.js';
import { now } from '../util/time.js';
import {
  checkBlockSize, CONFIG_FILE, DEFAULT_BLOCK_SIZE, FORMAT, FORMAT_VERSION, fsyncDir, readConfig, storesOf,
  validateStoreConfig, writeConfig, type StoreConfig, type VolumeConfig,
} from './config.js';
import { acquireLock, LOCK_FILE, type VolumeLock } from './lock.js';
import type { VolumeSecret } from './secret.js';

export type { VolumeSecret } from './secret.js';
export type { VolumeConfig } from './config.js';

export const META_FILE = 'meta.db';
export const BLOCKS_DIR = 'blocks';
/** MetaStore settings the volume keeps to cross-check meta.db against mosaicfs.json. */
export const SETTING_VOLUME_ID = 'volumeId';
export const SETTING_FORMAT_VERSION = 'formatVersion';

export interface Volume {
  dir: string;
  config: VolumeConfig;
  meta: MetaStore;
  blocks: BlockStore;
  codec: BlockCodec;
  /** Closes the stores (syncing them) and releases the lock. Idempotent. */
  close(): Promise<void>;
}

export interface InitOptions {
  secret: VolumeSecret;
  blockSize?: number;
  /** scrypt cost for passphrase volumes (default 2^15; tests use less). */
  scryptN?: number;
  /**
   * Where blocks live (default a local folder "blocks" in the volume). Validated, checked against
   * backend limits (Discord's attachment size), and opened once, so an unreachable backend or a
   * rejected credential fails the init instead of the first write.
   */
  store?: StoreConfig;
}

export interface OpenOptions {
  secret: VolumeSecret;
  /** Take the volume's exclusive lock (default true). */
  lock?: boolean;
  /** Who holds the lock, shown to anyone who finds the volume busy, e.g. "mount /home/me/mnt". */
  lockOwner?: string;
}

/** Creates a new volume in `dir` (created if missing; an existing folder must be empty). */
export async function initVolume(dir: string, opts: InitOptions): Promise<VolumeConfig> {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  checkBlockSize(blockSize);
  const store: StoreConfig = validateStoreConfig(opts.store ?? { type: 'local', path: BLOCKS_DIR });
  await checkStoreLimits(store, blockSize);
  const createdDir = await prepareEmptyDir(dir);

  const volumeId = randomUUID();
  const volumeKey = generateVolumeKey();
  try {
    const key = await wrapVolumeKey(volumeKey, opts.secret, volumeId, { scryptN: opts.scryptN });
    const config: VolumeConfig = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      volumeId,
      created: new Date().toISOString(),
      blockSize,
      cipher: 'aes-256-gcm',
      blockId: 'hmac-sha256',
      key,
      store,
    };
    const blocks = await openBlockStore(store, { volumeDir: dir });
    await blocks.close();
    const meta = SqliteMetaStore.open(path.join(dir, META_FILE), { chunkSize: blockSize });
    try {
      await meta.init({ mode: S_IFDIR | 0o755, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, now: now() });
      await meta.setSetting(SETTING_VOLUME_ID, volumeId);
      await meta.setSetting(SETTING_FORMAT_VERSION, String(FORMAT_VERSION));
      await meta.sync();
    } finally {
      await meta.close();
    }
    // The config is written last: a folder without it is not a volume, whatever else is there.
    await writeConfig(dir, config);
    return config;
  } catch (err) {
    await removeInitLeftovers(dir, createdDir, store);
    throw err;
  } finally {
    volumeKey.fill(0);
  }
}

/** Opens a volume: unlocks its key, takes its lock, opens its metadata and block stores. */
export async function openVolume(dir: string, opts: OpenOptions): Promise<Volume> {
  const config = await readConfig(dir);
  const volumeKey = await unwrapVolumeKey(config.key, opts.secret, config.volumeId);
  const codec = new AesGcmBlockCodec(deriveBlockKeys(volumeKey));
  volumeKey.fill(0);

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  };
  try {
    if (opts.lock ?? true) {
      const lock: VolumeLock = await acquireLock(dir, opts.lockOwner ?? `pid ${process.pid}`);
      closers.push(() => lock.release());
    }
    const metaFile = path.join(dir, META_FILE);
    if (!(await exists(metaFile))) {
      throw new VolumeError(`volume ${dir} is damaged: ${META_FILE} is missing (the metadata cannot be recreated)`);
    }
    const meta = SqliteMetaStore.open(metaFile, { chunkSize: config.blockSize });
    closers.push(() => meta.close());
    const storedId = await meta.getSetting(SETTING_VOLUME_ID);
    if (storedId !== config.volumeId) {
      throw new VolumeError(
        `volume ${dir} is inconsistent: ${META_FILE} belongs to volume ${storedId ?? '(none)'}, but ${CONFIG_FILE} says ${config.volumeId}`,
      );
    }
    const blocks = await openBlockStore(config.store, { volumeDir: dir });
    closers.push(() => blocks.close());

    let closing: Promise<void> | null = null;
    return {
      dir,
      config,
      meta,
      blocks,
      codec,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
}

/** Backend limits that depend on the volume: a Discord attachment must hold a whole sealed block. */
async function checkStoreLimits(store: StoreConfig, blockSize: number): Promise<void> {
  if (!storesOf(store).some((s) => s.type === 'discord')) return;
  const { checkDiscordBlockSize } = await import('../block/discord/blockSize.js');
  try {
    checkDiscordBlockSize(blockSize);
  } catch (err) {
    throw new VolumeError((err as Error).message);
  }
}

/** Returns whether the folder was created. Refuses a volume and a non-empty folder. */
async function prepareEmptyDir(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await fs.mkdir(dir, { recursive: true });
      await fsyncDir(path.dirname(path.resolve(dir)));
      return true;
    }
    if (code === 'ENOTDIR') throw new VolumeError(`${dir} exists and is not a folder`);
    throw new VolumeError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  if (entries.includes(CONFIG_FILE)) throw new VolumeError(`${dir} is already a mosaicfs volume`);
  if (entries.length > 0) {
    throw new VolumeError(`${dir} is not empty and not a mosaicfs volume; choose an empty or new folder`);
  }
  return false;
}

/** Undo a failed init: the folder was empty (or absent) before, so everything in it is ours. */
async function removeInitLeftovers(dir: string, createdDir: boolean, store: StoreConfig): Promise<void> {
  if (createdDir) {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return;
  }
  const ours = [CONFIG_FILE, META_FILE, `${META_FILE}-wal`, `${META_FILE}-shm`, `${META_FILE}-journal`, BLOCKS_DIR, LOCK_FILE];
  for (const s of storesOf(store)) {
    const p = s.type === 'local' ? s.path : s.type === 'discord' ? s.indexPath : undefined;
    if (p !== undefined && !path.isAbsolute(p) && !path.normalize(p).startsWith('..')) ours.push(p, `${p}-wal`, `${p}-shm`);
  }
  for (const name of ours) await fs.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => undefined);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}
