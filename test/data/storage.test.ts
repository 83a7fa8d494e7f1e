/** What gets stored: holes cost nothing, identical files dedup, small writes stay small, compaction. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { now } from '../../src/util/time.js';
import { bytes, createFile, readAll, storedBlocks, withStack } from './fixture.js';

const CS = 64 * 1024;

describe('ChunkedFileData storage', () => {
  it('stores no blocks for holes: a write far past EOF costs only the written bytes', async () => {
    await withStack(CS, {}, async (s) => {
      const ino = await createFile(s);
      const far = 1000 * CS + 123;
      await s.data.write(ino, far, bytes(100, 1), now());
      await s.data.flush(ino);
      assert.equal((await s.meta.getattr(ino)).size, far + 100);
      const st = await s.meta.stats();
      assert.equal(st.blocks, 1);
      assert.equal(st.blockBytes, 100);
      assert.equal(st.referencedBytes, 100);
      const stored = await storedBlocks(s);
      assert.equal(stored.count, 1);
      assert.equal(stored.bytes, s.codec.sealedSize(100));
      // holes read as zeros, on both sides of a chunk boundary
      const size = far + 100;
      const hole = await s.data.read(ino, 5 * CS - 10, 3 * CS, size);
      assert.equal(hole.length, 3 * CS);
      assert.ok(hole.equals(Buffer.alloc(3 * CS)));
      const tail = await s.data.read(ino, far - 50, 1000, size);
      assert.equal(tail.length, 150);
      assert.ok(tail.subarray(0, 50).equals(Buffer.alloc(50)));
      assert.ok(tail.subarray(50).equals(bytes(100, 1)));
      // growing truncate stores nothing either
      await s.data.truncate(ino, 2000 * CS, now());
      assert.equal((await s.meta.stats()).blocks, 1);
    });
  });

  it('dedups identical files: one block per distinct chunk', async () => {
    // Probe every block for dedup (by default only blocks of 256 KiB and more are probed).
    await withStack(CS, { dedupProbeMinBytes: 0 }, async (s) => {
      const content = bytes(3 * CS + 500, 7);
      const a = await createFile(s);
      const b = await createFile(s);
      // different write patterns, same bytes
      await s.data.write(a, 0, content, now());
      await s.data.flush(a);
      for (let off = 0; off < content.length; off += 4096) await s.data.write(b, off, content.subarray(off, off + 4096), now());
      await s.data.flush(b);
      const st = await s.meta.stats();
      assert.equal(st.blocks, 4, 'three full chunks and one tail');
      assert.equal(st.blockBytes, content.length);
      assert.equal(st.referencedBytes, 2 * content.length);
      assert.equal((await storedBlocks(s)).count, 4);
      assert.equal(s.data.stats().blocksDeduped, 4);
      assert.ok((await readAll(s, a)).equals(content));
      assert.ok((await readAll(s, b)).equals(content));
    });
  });

  it('small random writes create small blocks, never full-chunk rewrites', async () => {
    await withStack(CS, { maxSlicesPerChunk: 1000 }, async (s) => {
      const ino = await createFile(s);
      await s.data.write(ino, 0, bytes(4 * CS, 3), now());
      await s.data.flush(ino);
      const before = await s.meta.stats();
      const storedBefore = await storedBlocks(s);
      for (let i = 0; i < 20; i++) {
        await s.data.write(ino, ((i * 7919) % 4) * CS + ((i * 104729) % (CS - 100)), bytes(100, 100 + i), now());
        await s.data.flush(ino);
      }
      const after = await s.meta.stats();
      const storedAfter = await storedBlocks(s);
      assert.equal(after.blocks - before.blocks, 20);
      assert.equal(after.blockBytes - before.blockBytes, 20 * 100, 'each write stored only its 100 bytes');
      assert.equal(storedAfter.bytes - storedBefore.bytes, 20 * (s.codec.sealedSize(100)));
    });
  });

  it('packs all dirty extents of a chunk into one block with one slice each', async () => {
    await withStack(CS, { maxSlicesPerChunk: 1000 }, async (s) => {
      const ino = await createFile(s);
      await s.data.write(ino, 10, bytes(5, 1), now());
      await s.data.write(ino, 1000, bytes(7, 2), now());
      await s.data.write(ino, 15, bytes(3, 3), now()); // adjacent: merges with the first
      await s.data.flush(ino);
      const slices = (await s.meta.readChunks(ino, 0, 0)).get(0)!;
      assert.equal(slices.length, 2);
      assert.equal(slices[0].blockId, slices[1].blockId);
      assert.deepEqual(slices.map((x) => [x.chunkOff, x.len, x.blockOff]), [[10, 8, 0], [1000, 7, 8]]);
      assert.equal((await s.meta.stats()).blockBytes, 15);
    });
  });

  it('compaction drops hidden slices and rewrites crowded chunks without changing content', async () => {
    await withStack(CS, { maxSlicesPerChunk: 4 }, async (s) => {
      const ino = await createFile(s);
      const model = Buffer.alloc(CS);
      // hidden slices: the same range rewritten
      for (let i = 0; i < 3; i++) {
        const d = bytes(200, i);
        await s.data.write(ino, 100, d, now());
        d.copy(model, 100);
        await s.data.flush(ino);
      }
      await s.data.whenIdle();
      assert.equal((await s.meta.readChunks(ino, 0, 0)).get(0)!.length, 1, 'hidden slices dropped');
      assert.ok(s.data.stats().slicesDropped >= 2);
      // crowded chunk: many small disjoint slices
      for (let i = 0; i < 10; i++) {
        const d = bytes(50, 50 + i);
        await s.data.write(ino, 1000 + i * 3000, d, now());
        d.copy(model, 1000 + i * 3000);
        await s.data.flush(ino);
      }
      await s.data.whenIdle();
      const slices = (await s.meta.readChunks(ino, 0, 0)).get(0)!;
      assert.ok(slices.length <= 4, `slices after compaction: ${slices.length}`);
      assert.ok(s.data.stats().chunksRewritten >= 1);
      const size = (await s.meta.getattr(ino)).size;
      assert.ok((await s.data.read(ino, 0, size, size)).equals(model.subarray(0, size)));
      assert.deepEqual(await s.meta.check(), []);
    });
  });

  it('streams full chunks in the background before any flush', async () => {
    await withStack(CS, {}, async (s) => {
      const ino = await createFile(s);
      const content = bytes(3 * CS + 10, 9);
      for (let off = 0; off < content.length; off += 8192) await s.data.write(ino, off, content.subarray(off, off + 8192), now());
      await s.data.whenIdle();
      // the three full chunks are committed; only the 10-byte tail is still buffered
      assert.equal((await s.meta.getattr(ino)).size, 3 * CS);
      assert.equal(s.data.stats().bufferedBytes, 10);
      assert.deepEqual(s.data.pending(ino)?.size, 3 * CS + 10);
      await s.data.flush(ino);
      assert.ok((await readAll(s, ino)).equals(content));
      const slices = await s.meta.readChunks(ino, 0, 3);
      assert.deepEqual([...slices.values()].map((l) => l.length), [1, 1, 1, 1]);
    });
  });
});
