/** Partial block reads: a read fetches and decrypts only the segments it needs, in one request. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { describe, it } from 'node:test';
import { DiskCache } from '../../src/data/DiskCache.js';
import { IntegrityError } from '../../src/errors.js';
import { now } from '../../src/util/time.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { FaultyBlockStore } from './FaultyBlockStore.js';
import { bytes, cachedSegments, createFile, type DataStack, readAll, withStack } from './fixture.js';

const S = 64 * 1024; // segment size
const SEALED_S = S + 16; // a full segment with its tag
const HEADER = 14;
const CS = 16 * S; // 1 MiB chunks: blocks of 16 segments

/** A file of `chunks` full chunks, flushed, with the memory cache emptied. */
async function committedFile(s: DataStack, chunks: number, seed: number): Promise<{ ino: number; content: Buffer }> {
  const ino = await createFile(s);
  const content = bytes(chunks * CS, seed);
  await s.data.write(ino, 0, content, now());
  await s.data.flush(ino);
  await s.data.whenIdle();
  s.cache.clear();
  return { ino, content };
}

async function blockOf(s: DataStack, ino: number, chunk: number): Promise<string> {
  const slices = (await s.meta.readChunks(ino, chunk, chunk)).get(chunk)!;
  assert.equal(slices.length, 1);
  return slices[0].blockId;
}

function expectIntegrityError(id: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof IntegrityError, `expected IntegrityError, got ${String(err)}`);
    assert.equal(err.code, 'EIO');
    assert.equal(err.blockId, id);
    return true;
  };
}

describe('partial block reads', () => {
  it('a small read fetches one segment with one request; a read across segments fetches just those', async () => {
    let faulty!: FaultyBlockStore;
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const { ino, content } = await committedFile(s, 2, 1);
      const id = await blockOf(s, ino, 0);
      const read = async (off: number, len: number): Promise<void> => {
        assert.ok((await s.data.read(ino, off, len, content.length)).equals(content.subarray(off, off + len)), `read ${off}+${len}`);
      };

      let before = { gets: faulty.gets, bytes: faulty.bytesRead };
      await read(4 * S + 1000, 4096);
      assert.deepEqual({ gets: faulty.gets - before.gets, bytes: faulty.bytesRead - before.bytes }, { gets: 1, bytes: SEALED_S });
      assert.deepEqual(await cachedSegments(s, id), { cached: 1, of: 16 });

      before = { gets: faulty.gets, bytes: faulty.bytesRead };
      await read(4 * S + 30_000, 4096); // same segment: memory cache
      assert.equal(faulty.gets, before.gets);

      await read(6 * S - 100, 300); // segments 5 and 6 in one request
      assert.deepEqual({ gets: faulty.gets - before.gets, bytes: faulty.bytesRead - before.bytes }, { gets: 1, bytes: 2 * SEALED_S });

      before = { gets: faulty.gets, bytes: faulty.bytesRead };
      await read(0, 10); // segment 0 comes with the header
      assert.deepEqual({ gets: faulty.gets - before.gets, bytes: faulty.bytesRead - before.bytes }, { gets: 1, bytes: HEADER + SEALED_S });

      before = { gets: faulty.gets, bytes: faulty.bytesRead };
      await read(3 * S, 4 * S); // segments 3..6, of which 4, 5, 6 are cached: only 3 is fetched
      assert.deepEqual({ gets: faulty.gets - before.gets, bytes: faulty.bytesRead - before.bytes }, { gets: 1, bytes: SEALED_S });

      before = { gets: faulty.gets, bytes: faulty.bytesRead };
      await read(CS - 50, 100); // last segment of block 0 and first of block 1: one request per block
      assert.equal(faulty.gets - before.gets, 2);
      assert.equal(faulty.ranges, faulty.gets, 'every read was a range request');
    }, (store) => (faulty = new FaultyBlockStore(store)));
  });

  it('concurrent reads of one segment share one request and one decryption', async () => {
    let faulty!: FaultyBlockStore;
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const { ino, content } = await committedFile(s, 1, 2);
      const gets = faulty.gets;
      const offsets = Array.from({ length: 12 }, (_, i) => 7 * S + i * 5000);
      const got = await Promise.all(offsets.map((off) => s.data.read(ino, off, 4096, content.length)));
      got.forEach((g, i) => assert.ok(g.equals(content.subarray(offsets[i], offsets[i] + 4096))));
      assert.equal(faulty.gets - gets, 1);
      assert.equal(s.data.stats().segmentsDownloaded, 1);
    }, (store) => (faulty = new FaultyBlockStore(store)));
  });

  it('a sequential reader gets whole blocks ahead of it, each segment downloaded and decrypted once', async () => {
    let faulty!: FaultyBlockStore;
    await withStack(CS, { readAheadChunks: 2 }, async (s) => {
      const { ino, content } = await committedFile(s, 3, 3);
      const gets = faulty.gets;
      const first = await s.data.read(ino, 0, 4096, content.length);
      assert.ok(first.equals(content.subarray(0, 4096)));
      assert.equal(faulty.bytesRead, HEADER + SEALED_S, 'the first byte waits for one segment only');
      for (let off = 4096; off < content.length; off += 128 * 1024) {
        const len = Math.min(128 * 1024, content.length - off);
        assert.ok((await s.data.read(ino, off, len, content.length)).equals(content.subarray(off, off + len)), `read at ${off}`);
      }
      await s.data.whenIdle();
      const st = s.data.stats();
      assert.equal(st.segmentsDownloaded, 3 * 16, 'no segment fetched twice');
      assert.ok(faulty.gets - gets <= 6, `${faulty.gets - gets} requests for 3 blocks read sequentially`);
      for (let chunk = 0; chunk < 3; chunk++) assert.deepEqual(await cachedSegments(s, await blockOf(s, ino, chunk)), { cached: 16, of: 16 });
    }, (store) => (faulty = new FaultyBlockStore(store)));
  });

  it('a tampered segment fails only the reads that need it, with EIO, and is never cached', async () => {
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const { ino, content } = await committedFile(s, 1, 4);
      const id = await blockOf(s, ino, 0);
      const file = s.store.pathOf(id);
      const original = await fsp.readFile(file);
      const bad = Buffer.from(original);
      bad[HEADER + 3 * SEALED_S + 100] ^= 0x04; // inside segment 3
      await fsp.writeFile(file, bad);

      assert.ok((await s.data.read(ino, S, S, content.length)).equals(content.subarray(S, 2 * S)), 'segment 1 is intact');
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(s.data.read(ino, 3 * S + 10, 10, content.length), expectIntegrityError(id));
        await assert.rejects(s.data.read(ino, 2 * S, 2 * S, content.length), expectIntegrityError(id), 'a run including it');
        assert.equal(s.cache.has(id, 3), false, 'bad segment not cached');
        assert.equal(s.cache.has(id, 2), false, 'nothing of a failed run is cached');
      }
      await fsp.writeFile(file, original);
      assert.ok((await readAll(s, ino)).equals(content), 'reads recover once the block is repaired');
    });
  });

  it('a truncated, extended or substituted block never returns wrong bytes', async () => {
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const a = await committedFile(s, 1, 5);
      const b = await committedFile(s, 1, 6);
      const idA = await blockOf(s, a.ino, 0);
      const idB = await blockOf(s, b.ino, 0);
      const fileA = s.store.pathOf(idA);
      const original = await fsp.readFile(fileA);

      await fsp.truncate(fileA, original.length - 10);
      assert.ok((await s.data.read(a.ino, 0, 100, CS)).equals(a.content.subarray(0, 100)), 'segments before the cut read fine');
      await assert.rejects(s.data.read(a.ino, CS - 100, 100, CS), expectIntegrityError(idA), 'truncated last segment');

      // Cut to 15 whole segments and the header rewritten to announce that length.
      const cut = Buffer.from(original.subarray(0, HEADER + 15 * SEALED_S));
      cut.writeUInt32BE(15 * S, 2);
      await fsp.writeFile(fileA, cut);
      s.cache.clear();
      await assert.rejects(s.data.read(a.ino, 0, 100, CS), expectIntegrityError(idA), 'shortened block');
      assert.ok((await s.data.read(a.ino, 14 * S, 100, CS)).equals(a.content.subarray(14 * S, 14 * S + 100)), 'intact segments stay readable');
      await assert.rejects(s.data.read(a.ino, 15 * S, 100, CS), expectIntegrityError(idA), 'the cut segment');

      await fsp.writeFile(fileA, Buffer.concat([original, Buffer.alloc(SEALED_S)]));
      s.cache.clear();
      assert.ok((await s.data.read(a.ino, CS - 100, 100, CS)).equals(a.content.subarray(CS - 100)), 'trailing junk is never read');

      await fsp.copyFile(s.store.pathOf(idB), fileA);
      s.cache.clear();
      for (const off of [0, 5 * S, CS - 1]) await assert.rejects(s.data.read(a.ino, off, 1, CS), expectIntegrityError(idA), `B served as A at ${off}`);
      await fsp.writeFile(fileA, original);
      assert.ok((await readAll(s, a.ino)).equals(a.content));
    });
  });

  it('reads ranges of blocks in the disk cache without the store, and refetches a tampered cached segment', async () => {
    const cacheDir = await createTempDir('mosaicfs-dcache-');
    let faulty!: FaultyBlockStore;
    try {
      const diskCache = await DiskCache.open(cacheDir, 64 * 1024 * 1024);
      await withStack(CS, { diskCache, readAheadChunks: 1 }, async (s) => {
        const { ino, content } = await committedFile(s, 2, 7);
        const id1 = await blockOf(s, ino, 1);
        await s.data.read(ino, 0, 4096, content.length); // read-ahead fetches block 1 whole
        await s.data.whenIdle();
        assert.ok(diskCache.has(id1), 'a whole block fetched from the store is written to the disk cache');
        s.cache.clear();

        const gets = faulty.gets;
        assert.ok((await s.data.read(ino, CS + 9 * S, 4096, content.length)).equals(content.subarray(CS + 9 * S, CS + 9 * S + 4096)));
        assert.equal(faulty.gets, gets, 'served from the disk cache');
        assert.deepEqual(await cachedSegments(s, id1), { cached: 1, of: 16 }, 'only the segment needed was decrypted');

        const file = `${cacheDir}/${id1.slice(0, 2)}/${id1}`;
        const cached = await fsp.readFile(file);
        cached[HEADER + 11 * SEALED_S + 7] ^= 1;
        await fsp.writeFile(file, cached);
        assert.ok((await s.data.read(ino, CS + 11 * S, 100, content.length)).equals(content.subarray(CS + 11 * S, CS + 11 * S + 100)));
        assert.equal(faulty.gets, gets + 1, 'the tampered copy was dropped and the store asked');
        assert.equal(diskCache.has(id1), false);
      }, (store) => (faulty = new FaultyBlockStore(store)));
    } finally {
      await removeTempDir(cacheDir);
    }
  });
});
