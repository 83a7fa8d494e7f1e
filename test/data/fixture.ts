/** A real data stack in a temp dir: SQLite MetaStore file + LocalBlockStore folder + AES-GCM codec. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { BlockStore } from '../../src/block/BlockStore.js';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { AesGcmBlockCodec } from '../../src/crypto/AesGcmBlockCodec.js';
import { BlockCache } from '../../src/data/BlockCache.js';
import { ChunkedFileData, type ChunkedFileDataOptions } from '../../src/data/ChunkedFileData.js';
import { ROOT_INO, S_IFREG } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { now } from '../../src/util/time.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

export type ExtraOptions = Partial<Omit<ChunkedFileDataOptions, 'meta' | 'blocks' | 'codec' | 'chunkSize'>>;

export interface DataStack {
  dir: string;
  meta: SqliteMetaStore;
  store: LocalBlockStore;
  /** What ChunkedFileData talks to (the store, or a wrapper around it). */
  blocks: BlockStore;
  codec: AesGcmBlockCodec;
  cache: BlockCache;
  data: ChunkedFileData;
  chunkSize: number;
}

const keys = { idKey: randomBytes(32), encKey: randomBytes(32) };
let names = 0;

export async function openStack(
  dir: string,
  chunkSize: number,
  opts: ExtraOptions = {},
  wrap: (store: LocalBlockStore) => BlockStore = (s) => s,
): Promise<DataStack> {
  const meta = SqliteMetaStore.open(path.join(dir, 'meta.sqlite'), { chunkSize });
  await meta.init({ mode: 0o755, uid: 0, gid: 0, now: now() });
  const store = await LocalBlockStore.open(path.join(dir, 'blocks'));
  const blocks = wrap(store);
  const codec = new AesGcmBlockCodec(keys);
  const cache = opts.cache ?? new BlockCache();
  const data = new ChunkedFileData({ meta, blocks, codec, chunkSize, ...opts, cache });
  return { dir, meta, store, blocks, codec, cache, data, chunkSize };
}

export async function closeStack(s: DataStack): Promise<void> {
  await s.data.close();
  await s.store.close();
  await s.meta.close();
}

/** Run `fn` with a fresh stack in a fresh temp dir; everything is closed and removed afterwards. */
export async function withStack<T>(
  chunkSize: number,
  opts: ExtraOptions,
  fn: (s: DataStack) => Promise<T>,
  wrap?: (store: LocalBlockStore) => BlockStore,
): Promise<T> {
  const dir = await createTempDir('mosaicfs-data-');
  try {
    const s = await openStack(dir, chunkSize, opts, wrap);
    try {
      return await fn(s);
    } finally {
      await closeStack(s).catch(() => {});
    }
  } finally {
    await removeTempDir(dir);
  }
}

export async function createFile(s: DataStack, name = `f${++names}`): Promise<number> {
  const attr = await s.meta.create(ROOT_INO, name, { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: now() });
  return attr.ino;
}

/** Logical size as the VFS would see it: buffered size if anything is buffered, else committed. */
export async function sizeOf(s: DataStack, ino: number): Promise<number> {
  return s.data.pending(ino)?.size ?? (await s.meta.getattr(ino)).size;
}

export async function readAll(s: DataStack, ino: number): Promise<Buffer> {
  const size = await sizeOf(s, ino);
  return s.data.read(ino, 0, size, size);
}

/** Deterministic pseudo-random bytes (distinct per seed). */
export function bytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Count block files in the local store and their total size. */
export async function storedBlocks(s: DataStack): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let total = 0;
  for await (const b of s.store.list()) {
    count++;
    total += b.size;
  }
  return { count, bytes: total };
}

/** How many segments of a block the memory cache holds, out of how many it has. */
export async function cachedSegments(s: DataStack, id: string): Promise<{ cached: number; of: number }> {
  const record = await s.meta.getBlock(id);
  if (!record) throw new Error(`block ${id} is not recorded`);
  const of = s.codec.segmentCount(record.size);
  let cached = 0;
  for (let k = 0; k < of; k++) if (s.cache.has(id, k)) cached++;
  return { cached, of };
}
