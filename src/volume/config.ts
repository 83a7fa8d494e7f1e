import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { VolumeError } from '../errors.js';
import { checkScryptParams, type KeyEnvelope } from '../crypto/keys.js';

export const CONFIG_FILE = 'mosaicfs.json';
export const FORMAT = 'mosaicfs-volume';
export const FORMAT_VERSION = 1;

export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
export const MIN_BLOCK_SIZE = 64 * 1024;
export const MAX_BLOCK_SIZE = 10 * 1024 * 1024;
export const BLOCK_SIZE_ALIGN = 4096;

/**
 * Where blocks live: one backend or a tree of them (mosaicfs.json "store"). Secrets are never
 * stored here: S3 credentials come from the AWS environment/profile, Discord tokens and the peer
 * cluster secret from a file or an environment variable named below. src/block/openBlockStore.ts
 * turns a StoreConfig into a BlockStore.
 */
export type StoreConfig = LocalStoreConfig | S3StoreConfig | DiscordStoreConfig | PeersStoreConfig | ReplicateStoreConfig | TieredStoreConfig;

export interface LocalStoreConfig {
  type: 'local';
  /** Relative paths are relative to the volume folder. */
  path: string;
}

export interface S3StoreConfig {
  type: 's3';
  bucket: string;
  /** Key prefix ('' or ending without '/'; keys are `${prefix}/${id}`). */
  prefix?: string;
  /** e.g. http://127.0.0.1:9000 for MinIO/s3rver/Ceph; absent = AWS. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Bounded parallel requests (default 16). */
  maxParallel?: number;
}

export interface DiscordStoreConfig {
  type: 'discord';
  /** Channel ids (snowflakes) blocks are sharded over. */
  channels: string[];
  /** Bot tokens, one per line, in this file (relative to the volume folder)... */
  tokensFile?: string;
  /** ...or in this environment variable, comma-separated (default MOSAICFS_DISCORD_TOKENS). */
  tokensEnv?: string;
  /** API base URL (default https://discord.com/api/v10); tests point it at the emulator. */
  apiBase?: string;
  /** SQLite index of block id -> (channel, message, attachment), relative to the volume folder. */
  indexPath: string;
}

export interface PeersStoreConfig {
  type: 'peers';
  /** Static peers, host:port. */
  peers?: string[];
  /** UDP discovery port (default 7946); 0 or absent `discovery: false` disables discovery. */
  discoveryPort?: number;
  discovery?: boolean;
  /** Copies of each block (default 2). */
  replicas?: number;
  /** Cluster secret in this file (relative to the volume folder)... */
  secretFile?: string;
  /** ...or in this environment variable (default MOSAICFS_CLUSTER_SECRET). */
  secretEnv?: string;
}

export interface ReplicateStoreConfig {
  type: 'replicate';
  stores: StoreConfig[];
  /** Copies that must be stored before put() returns (default: all). */
  writeQuorum?: number;
}

export interface TieredStoreConfig {
  type: 'tiered';
  /** Written first, read first (e.g. a local folder). */
  fast: StoreConfig;
  /** Blocks move here in the background (e.g. S3, Discord). */
  slow: StoreConfig;
  /** Keep blocks in the fast tier after they reached the slow one (a cache), default true. */
  keepFast?: boolean;
}

export interface VolumeConfig {
  format: typeof FORMAT;
  formatVersion: typeof FORMAT_VERSION;
  volumeId: string;
  /** ISO 8601 date of `mosaicfs init`. */
  created: string;
  blockSize: number;
  cipher: 'aes-256-gcm';
  blockId: 'hmac-sha256';
  key: KeyEnvelope;
  store: StoreConfig;
}

/** Throws VolumeError unless `size` is an allowed block size (64 KiB..10 MiB, a multiple of 4096). */
export function checkBlockSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < MIN_BLOCK_SIZE || size > MAX_BLOCK_SIZE || size % BLOCK_SIZE_ALIGN !== 0) {
    throw new VolumeError(
      `invalid block size ${size}: it must be between ${MIN_BLOCK_SIZE} (64 KiB) and ${MAX_BLOCK_SIZE} (10 MiB) bytes and a multiple of ${BLOCK_SIZE_ALIGN}`,
    );
  }
}

export function configPath(dir: string): string {
  return path.join(dir, CONFIG_FILE);
}

/** Reads and validates mosaicfs.json of the volume at `dir`; every problem is a VolumeError a user can act on. */
export async function readConfig(dir: string): Promise<VolumeConfig> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch {
    throw new VolumeError(`${dir} does not exist; create a volume with \`mosaicfs init ${dir}\``);
  }
  if (!st.isDirectory()) throw new VolumeError(`${dir} is not a folder, so it is not a mosaicfs volume`);
  let text: string;
  try {
    text = await fs.readFile(configPath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new VolumeError(`${dir} is not a mosaicfs volume (no ${CONFIG_FILE}); run \`mosaicfs init ${dir}\``);
    }
    throw new VolumeError(`cannot read ${configPath(dir)}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new VolumeError(`${configPath(dir)} is corrupt (not valid JSON: ${(err as Error).message})`);
  }
  return validateConfig(raw, configPath(dir));
}

/** Checks the shape of a parsed config; `where` names the file in messages. */
export function validateConfig(raw: unknown, where: string): VolumeConfig {
  const bad = (why: string): VolumeError => new VolumeError(`${where} is corrupt: ${why}`);
  if (!isObject(raw)) throw bad('not a JSON object');
  if (raw.format !== FORMAT) throw new VolumeError(`${where} is not a mosaicfs volume config (format is ${JSON.stringify(raw.format)})`);
  if (raw.formatVersion !== FORMAT_VERSION) {
    throw new VolumeError(
      `${where} has volume format version ${JSON.stringify(raw.formatVersion)}, but this mosaicfs only understands version ${FORMAT_VERSION}; use a matching mosaicfs release`,
    );
  }
  if (typeof raw.volumeId !== 'string' || !/^[0-9a-f-]{36}$/.test(raw.volumeId)) throw bad('volumeId is not a UUID');
  if (typeof raw.created !== 'string' || Number.isNaN(Date.parse(raw.created))) throw bad('created is not a date');
  if (typeof raw.blockSize !== 'number') throw bad('blockSize is not a number');
  try {
    checkBlockSize(raw.blockSize);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (raw.cipher !== 'aes-256-gcm') throw bad(`unsupported cipher ${JSON.stringify(raw.cipher)}`);
  if (raw.blockId !== 'hmac-sha256') throw bad(`unsupported block id scheme ${JSON.stringify(raw.blockId)}`);
  validateKey(raw.key, bad);
  validateStore(raw.store, bad);
  return raw as unknown as VolumeConfig;
}

function validateKey(key: unknown, bad: (why: string) => VolumeError): void {
  if (!isObject(key)) throw bad('key is missing');
  if (key.kdf !== 'scrypt' && key.kdf !== 'keyfile') throw bad(`unknown key kdf ${JSON.stringify(key.kdf)}`);
  for (const field of ['salt', 'nonce', 'wrapped', 'tag']) {
    const v = key[field];
    if (typeof v !== 'string' || v.length === 0 || !/^[A-Za-z0-9+/]+=*$/.test(v)) throw bad(`key.${field} is not base64`);
  }
  if (!isObject(key.params)) throw bad('key.params is missing');
  if (key.kdf === 'scrypt') {
    try {
      checkScryptParams(key.params as never);
    } catch (err) {
      throw bad(`key.params: ${(err as Error).message}`);
    }
  }
}

function validateStore(store: unknown, bad: (why: string) => VolumeError): void {
  if (store === undefined) throw bad('store is missing');
  try {
    validateStoreConfig(store, 'store');
  } catch (err) {
    throw bad((err as Error).message);
  }
}

const STORE_FIELDS: Record<StoreConfig['type'], readonly string[]> = {
  local: ['path'],
  s3: ['bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle', 'maxParallel'],
  discord: ['channels', 'tokensFile', 'tokensEnv', 'apiBase', 'indexPath'],
  peers: ['peers', 'discoveryPort', 'discovery', 'replicas', 'secretFile', 'secretEnv'],
  replicate: ['stores', 'writeQuorum'],
  tiered: ['fast', 'slow', 'keepFast'],
};
const MAX_STORE_DEPTH = 8;

/**
 * Checks a store config tree (mosaicfs.json "store", or a --store-config file). Throws a VolumeError
 * naming the field (e.g. `store.stores[1].bucket`) and what is wrong; unknown fields are refused, so
 * a typo or a secret pasted into the config never passes silently.
 */
export function validateStoreConfig(raw: unknown, where = 'store', depth = 0): StoreConfig {
  const fail = (field: string, why: string): VolumeError => new VolumeError(`${field ? `${where}.${field}` : where} ${why}`);
  if (!isObject(raw)) throw fail('', 'must be an object with a "type"');
  if (depth > MAX_STORE_DEPTH) throw fail('', `nests stores deeper than ${MAX_STORE_DEPTH} levels`);
  const type = raw.type;
  if (typeof type !== 'string' || !(type in STORE_FIELDS)) {
    throw fail('type', `is ${JSON.stringify(type)}; expected one of ${Object.keys(STORE_FIELDS).join(', ')}`);
  }
  const allowed = STORE_FIELDS[type as StoreConfig['type']];
  for (const key of Object.keys(raw)) {
    if (key === 'type' || allowed.includes(key)) continue;
    const secretish = /token|secret|password|key|credential/i.test(key);
    throw fail(key, secretish
      ? 'is not allowed: secrets never go into the volume config (use a file or an environment variable, see docs/BACKENDS.md)'
      : `is not a field of a ${type} store (fields: ${allowed.join(', ')})`);
  }
  const str = (field: string, required: boolean, re?: RegExp, hint?: string): void => {
    const v = raw[field];
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || v.length === 0) throw fail(field, required ? 'is missing (a non-empty string)' : 'must be a non-empty string');
    if (re && !re.test(v)) throw fail(field, `is ${JSON.stringify(v)}: ${hint ?? `must match ${re}`}`);
  };
  const int = (field: string, min: number, max: number): void => {
    const v = raw[field];
    if (v === undefined) return;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw fail(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  };
  const bool = (field: string): void => {
    if (raw[field] !== undefined && typeof raw[field] !== 'boolean') throw fail(field, 'must be true or false');
  };
  const url = (field: string): void => {
    str(field, false, /^https?:\/\/[^\s/]+/, 'must be an http:// or https:// URL');
  };
  const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
  switch (type as StoreConfig['type']) {
    case 'local':
      str('path', true);
      break;
    case 's3':
      str('bucket', true, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid S3 bucket name (3-63 characters: a-z, 0-9, dots, hyphens)');
      if (raw.prefix !== undefined && (typeof raw.prefix !== 'string' || /^\/|\/$|\/\//.test(raw.prefix))) {
        throw fail('prefix', 'must be a string without a leading or trailing "/" (or "//")');
      }
      url('endpoint');
      str('region', false, /^[a-z0-9-]+$/, 'not a region name like us-east-1');
      bool('forcePathStyle');
      int('maxParallel', 1, 1024);
      break;
    case 'discord': {
      const ch = raw.channels;
      if (!Array.isArray(ch) || ch.length === 0) throw fail('channels', 'must list at least one channel id');
      ch.forEach((c, i) => {
        if (typeof c !== 'string' || !/^\d{15,21}$/.test(c)) throw fail(`channels[${i}]`, `is ${JSON.stringify(c)}: not a Discord channel id (a snowflake: 15-21 digits)`);
      });
      if (new Set(ch).size !== ch.length) throw fail('channels', 'lists a channel twice');
      str('tokensFile', false);
      str('tokensEnv', false, ENV_NAME, 'not an environment variable name');
      url('apiBase');
      str('indexPath', true);
      break;
    }
    case 'peers': {
      const peers = raw.peers;
      if (peers !== undefined) {
        if (!Array.isArray(peers)) throw fail('peers', 'must be a list of host:port');
        peers.forEach((p, i) => {
          if (typeof p !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(p) || Number(p.slice(p.lastIndexOf(':') + 1)) > 65535) {
            throw fail(`peers[${i}]`, `is ${JSON.stringify(p)}: expected host:port`);
          }
        });
      }
      int('discoveryPort', 0, 65535);
      bool('discovery');
      int('replicas', 1, 16);
      str('secretFile', false);
      str('secretEnv', false, ENV_NAME, 'not an environment variable name');
      const discovers = raw.discovery !== false && raw.discoveryPort !== 0;
      if (!discovers && (!Array.isArray(peers) || peers.length === 0)) throw fail('', 'has discovery off and no static peers: no node could ever be found');
      break;
    }
    case 'replicate': {
      const stores = raw.stores;
      if (!Array.isArray(stores) || stores.length < 2) throw fail('stores', 'must list at least two stores to replicate over');
      stores.forEach((child, i) => validateStoreConfig(child, `${where}.stores[${i}]`, depth + 1));
      int('writeQuorum', 1, stores.length);
      break;
    }
    case 'tiered':
      if (raw.fast === undefined) throw fail('fast', 'is missing (the store written first, e.g. {"type":"local","path":"blocks"})');
      if (raw.slow === undefined) throw fail('slow', 'is missing (the store blocks move to)');
      validateStoreConfig(raw.fast, `${where}.fast`, depth + 1);
      validateStoreConfig(raw.slow, `${where}.slow`, depth + 1);
      bool('keepFast');
      break;
  }
  return raw as unknown as StoreConfig;
}

/** Every store of a tree, depth first (the tree itself first). */
export function storesOf(cfg: StoreConfig): StoreConfig[] {
  if (cfg.type === 'replicate') return [cfg, ...cfg.stores.flatMap(storesOf)];
  if (cfg.type === 'tiered') return [cfg, ...storesOf(cfg.fast), ...storesOf(cfg.slow)];
  return [cfg];
}

/** Writes mosaicfs.json atomically (temp file, fsync, rename, fsync of the folder). */
export async function writeConfig(dir: string, config: VolumeConfig): Promise<void> {
  const tmp = path.join(dir, `.${CONFIG_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(config, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, configPath(dir));
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
