// A small harness for backend benchmarks (bench/backends/*.ts): the same blocks pushed through a
// backend's own client, through its BlockStore, and through a mosaicfs volume (VFS + data layer)
// whose store is that BlockStore; MiB/s and ratios printed as one table. Not part of npm test.
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlockStore } from '../../src/block/BlockStore.js';
import { BlockCache } from '../../src/data/BlockCache.js';
import { ChunkedFileData } from '../../src/data/ChunkedFileData.js';
import { ROOT_CTX } from '../../src/vfs/types.js';
import { Vfs } from '../../src/vfs/Vfs.js';
import { initVolume, openVolume } from '../../src/volume/Volume.js';

const MiB = 1024 * 1024;

export interface BackendBenchArgs {
  /** Blocks per phase (--count). */
  count: number;
  /** Bytes per block (--block-mib, default 4). */
  blockBytes: number;
  /** Requests in flight (--parallel). */
  parallel: number;
}

/** `--count N --block-mib M --parallel P` over the given defaults. */
export function parseBackendBenchArgs(argv: string[], defaults: BackendBenchArgs): BackendBenchArgs {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--count') out.count = value;
    else if (argv[i] === '--block-mib') out.blockBytes = Math.round(value * MiB);
    else if (argv[i] === '--parallel') out.parallel = value;
    else continue;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`bad value for ${argv[i]}: ${argv[i + 1]}`);
    i++;
  }
  return out;
}

export interface Block {
  id: string;
  data: Buffer;
}

/** `count` blocks of random bytes (incompressible, all distinct) with sha256 ids. */
export function makeBlocks(count: number, size: number): Block[] {
  return Array.from({ length: count }, () => {
    const data = randomBytes(size);
    return { id: createHash('sha256').update(data).digest('hex'), data };
  });
}

/** Run fn over items with at most `parallel` at once. */
export async function runPool<T>(items: readonly T[], parallel: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

export interface Throughput {
  label: string;
  bytes: number;
  seconds: number;
  mibPerSec: number;
}

/** Time fn, which moves `bytes` bytes. */
export async function timed(label: string, bytes: number, fn: () => Promise<void>): Promise<Throughput> {
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label, bytes, seconds, mibPerSec: bytes / MiB / seconds };
}

const totalBytes = (blocks: readonly Block[]): number => blocks.reduce((n, b) => n + b.data.length, 0);

/** put every block, then get every block, through a BlockStore with `parallel` requests in flight. */
export async function storeThroughput(label: string, store: BlockStore, blocks: readonly Block[], parallel: number): Promise<{ put: Throughput; get: Throughput }> {
  const bytes = totalBytes(blocks);
  const put = await timed(`${label} put`, bytes, () => runPool(blocks, parallel, (b) => store.put(b.id, b.data)));
  const get = await timed(`${label} get`, bytes, () => runPool(blocks, parallel, async (b) => {
    const got = await store.get(b.id);
    if (!got.equals(b.data)) throw new Error(`${label}: block ${b.id} came back different`);
  }));
  return { put, get };
}

export interface VolumeBenchOptions {
  /** The file's size (default: count × blockSize of the caller). */
  fileBytes: number;
  /** Volume block size (default 4 MiB). */
  blockSize?: number;
  /** Size of each write() (default 1 MiB, as the kernel sends with big_writes). */
  writeBytes?: number;
  /** ChunkedFileData's uploads in flight (default: the data layer's own default, what a mount uses). */
  uploadConcurrency?: number;
}

/**
 * Write one file through the VFS of a fresh temp volume whose blocks go to `store` (encryption,
 * write buffer, upload, metadata commit: what a mount does below FUSE), then read it back with a
 * cold cache. The temp volume's own metadata is local SQLite; `store` is not closed here.
 */
export async function volumeThroughput(label: string, store: BlockStore, opts: VolumeBenchOptions): Promise<{ write: Throughput; read: Throughput }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-bench-vol-'));
  const blockSize = opts.blockSize ?? 4 * MiB;
  const writeBytes = opts.writeBytes ?? MiB;
  const secret = { passphrase: 'bench' };
  try {
    await initVolume(dir, { secret, blockSize, scryptN: 1024 });
    const volume = await openVolume(dir, { secret, lockOwner: 'bench' });
    const layer = (): { data: ChunkedFileData; vfs: Vfs } => {
      const data = new ChunkedFileData({
        meta: volume.meta, blocks: store, codec: volume.codec, chunkSize: blockSize,
        cache: new BlockCache(64 * MiB), uploadConcurrency: opts.uploadConcurrency, backgroundGc: false,
      });
      return { data, vfs: new Vfs({ meta: volume.meta, data, blockSize, volumeDir: dir }) };
    };
    try {
      const payload = randomBytes(writeBytes);
      let ino = 0;
      const w = layer();
      const write = await timed(`${label} write`, opts.fileBytes, async () => {
        await w.vfs.ready;
        const { fh, attr } = await w.vfs.create(ROOT_CTX, 1, 'bench.bin', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
        ino = attr.ino;
        for (let off = 0; off < opts.fileBytes; off += writeBytes) {
          // A different first byte per write keeps every block distinct (no dedup).
          payload.writeUInt32BE(off / writeBytes, 0);
          await w.vfs.write(ROOT_CTX, fh, off, payload.subarray(0, Math.min(writeBytes, opts.fileBytes - off)));
        }
        await w.vfs.fsync(ROOT_CTX, fh, false);
        await w.vfs.release(ROOT_CTX, fh);
      });
      await w.vfs.shutdown();
      await w.data.close();

      const r = layer();
      const read = await timed(`${label} read (cold)`, opts.fileBytes, async () => {
        await r.vfs.ready;
        const { fh } = await r.vfs.open(ROOT_CTX, ino, fsc.O_RDONLY);
        let got = 0;
        for (let off = 0; off < opts.fileBytes; off += writeBytes) {
          got += (await r.vfs.read(ROOT_CTX, fh, off, writeBytes)).length;
        }
        await r.vfs.release(ROOT_CTX, fh);
        if (got !== opts.fileBytes) throw new Error(`${label}: read ${got} of ${opts.fileBytes} bytes`);
      });
      await r.vfs.shutdown();
      await r.data.close();
      return { write, read };
    } finally {
      await volume.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Print rows as a table; `ratioTo` maps a row to the baseline row its ratio is computed against. */
export function printTable(title: string, rows: Throughput[], ratioTo: (row: Throughput) => Throughput | undefined = () => undefined): void {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map((r) => r.label.length));
  for (const row of rows) {
    const base = ratioTo(row);
    const ratio = base && base !== row ? `  ${(row.mibPerSec / base.mibPerSec).toFixed(2)}x of ${base.label}` : '';
    console.log(`  ${row.label.padEnd(width)}  ${row.mibPerSec.toFixed(1).padStart(8)} MiB/s  (${(row.bytes / MiB).toFixed(0)} MiB in ${row.seconds.toFixed(2)} s)${ratio}`);
  }
}
