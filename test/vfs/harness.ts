import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlockStore } from '../../src/block/BlockStore.js';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { AesGcmBlockCodec } from '../../src/crypto/AesGcmBlockCodec.js';
import { BlockCache } from '../../src/data/BlockCache.js';
import { ChunkedFileData } from '../../src/data/ChunkedFileData.js';
import { isFsError, type ErrnoCode } from '../../src/errors.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { now } from '../../src/util/time.js';
import { Vfs } from '../../src/vfs/Vfs.js';
import type { Ctx } from '../../src/vfs/types.js';

/** Callers for permission tests: root, a file owner, a member of the owner's group, a stranger. */
export const ROOT: Ctx = { uid: 0, gid: 0, pid: 1 };
export const ALICE: Ctx = { uid: 1000, gid: 1000, pid: 2 };
export const BOB: Ctx = { uid: 1001, gid: 1001, pid: 3, groups: [1000] };
export const CAROL: Ctx = { uid: 1002, gid: 1002, pid: 4 };

export interface Parts {
  dir: string;
  vfs: Vfs;
  meta: SqliteMetaStore;
  data: ChunkedFileData;
  blocks: LocalBlockStore;
  /** Flush, then close every part (the temp dir stays). */
  close(): Promise<void>;
  /** Close the parts without flushing or releasing anything, as a crash would leave them. */
  crash(): Promise<void>;
}

export interface PartsOptions {
  readonly?: boolean;
  chunkSize?: number;
  /** ChunkedFileData's option (default true); false is the embedded volume's write-back close. */
  closeWaitsForUpload?: boolean;
  uploadConcurrency?: number;
  /** ChunkedFileData's delayed write-back of closed files, ms (default 0: upload at close). */
  writebackDelayMs?: number;
  /** ChunkedFileData's write buffer bound, bytes (default 64 MiB). */
  writeBufferBytes?: number;
  /** What the data layer talks to instead of the local block store itself (a wrapper around it). */
  wrapBlocks?: (store: LocalBlockStore) => BlockStore;
}

/** A volume on real parts (SQLite metadata, local blocks, AES-GCM, chunked data) in `dir`. */
export async function openParts(dir: string, keys: { idKey: Buffer; encKey: Buffer }, opts: PartsOptions = {}): Promise<Parts> {
  const chunkSize = opts.chunkSize ?? 64 * 1024;
  const meta = SqliteMetaStore.open(path.join(dir, 'meta.db'), { chunkSize });
  await meta.init({ mode: 0o040755, uid: 0, gid: 0, now: now() });
  const blocks = await LocalBlockStore.open(path.join(dir, 'blocks'));
  const data = new ChunkedFileData({
    meta, blocks: opts.wrapBlocks ? opts.wrapBlocks(blocks) : blocks, codec: new AesGcmBlockCodec(keys), chunkSize,
    cache: new BlockCache(8 * 1024 * 1024), gcDelayMs: 60_000,
    closeWaitsForUpload: opts.closeWaitsForUpload, uploadConcurrency: opts.uploadConcurrency,
    writebackDelayMs: opts.writebackDelayMs, writeBufferBytes: opts.writeBufferBytes,
  });
  const vfs = new Vfs({ meta, data, blockSize: chunkSize, volumeDir: dir, readonly: opts.readonly });
  await vfs.ready;
  const closeAll = async (flush: boolean): Promise<void> => {
    if (flush) await vfs.shutdown();
    if (flush) await data.close();
    await blocks.close();
    await meta.close();
  };
  return { dir, vfs, meta, data, blocks, close: () => closeAll(true), crash: () => closeAll(false) };
}

export interface TempVolume extends Parts {
  keys: { idKey: Buffer; encKey: Buffer };
  /** Open the same volume again (after close or crash). */
  reopen(opts?: PartsOptions): Promise<Parts>;
  /** Close (if still open) and delete the temp dir. */
  dispose(): Promise<void>;
}

export async function makeVolume(opts: PartsOptions = {}): Promise<TempVolume> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-vfs-'));
  const keys = { idKey: randomBytes(32), encKey: randomBytes(32) };
  const parts = await openParts(dir, keys, opts);
  const opened: Parts[] = [parts];
  let closed = false;
  const track = (p: Parts): Parts => {
    const close = p.close;
    const crash = p.crash;
    let done = false;
    p.close = async () => { if (!done) { done = true; await close(); } };
    p.crash = async () => { if (!done) { done = true; await crash(); } };
    return p;
  };
  track(parts);
  return {
    ...parts,
    get close() { return parts.close; },
    get crash() { return parts.crash; },
    keys,
    async reopen(o?: PartsOptions) {
      const p = track(await openParts(dir, keys, { ...opts, ...o }));
      opened.push(p);
      return p;
    },
    async dispose() {
      if (closed) return;
      closed = true;
      for (const p of opened) await p.crash().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Assert that a promise rejects with an FsError of the given code. */
export async function rejectsWith(p: Promise<unknown>, code: ErrnoCode): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (isFsError(err, code)) return;
    throw new Error(`expected ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  throw new Error(`expected ${code}, but the operation succeeded`);
}

/**
 * Block files in the store vs blocks the MetaStore records: after GC both must be exactly the
 * referenced blocks (nothing leaked, nothing missing).
 */
export async function storedAndRecordedBlocks(p: Parts): Promise<{ stored: string[]; recorded: string[] }> {
  const stored: string[] = [];
  for await (const b of p.blocks.list()) stored.push(b.id);
  const recorded: string[] = [];
  for (let cursor: string | null = null; ;) {
    const page = await p.meta.listBlocks(cursor, 1000);
    recorded.push(...page.blocks.map((b) => b.id));
    if (page.next === null) break;
    cursor = page.next;
  }
  return { stored: stored.sort(), recorded: recorded.sort() };
}
