/** Read-ahead decisions: whole chunks are prefetched for sequential readers only, never for random ones. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { now } from '../../src/util/time.js';
import { bytes, cachedSegments, createFile, type DataStack, withStack } from './fixture.js';

const CS = 256 * 1024;
const SEGMENT = 64 * 1024;
const CHUNKS = 48; // 12 MiB: room for jumps wider than the 2 MiB sequential window

async function committedFile(s: DataStack): Promise<{ ino: number; content: Buffer }> {
  const ino = await createFile(s);
  const content = bytes(CHUNKS * CS, 11);
  await s.data.write(ino, 0, content, now());
  await s.data.flush(ino);
  s.cache.clear();
  return { ino, content };
}

async function chunkCached(s: DataStack, ino: number, chunk: number): Promise<boolean> {
  const [slice] = (await s.meta.readChunks(ino, chunk, chunk)).get(chunk) ?? [];
  const { cached, of } = await cachedSegments(s, slice.blockId);
  return cached === of;
}

describe('read-ahead', () => {
  it('random 4 KiB reads fetch only the segment each one needs', async () => {
    await withStack(CS, { readAheadChunks: 2 }, async (s) => {
      const { ino, content } = await committedFile(s);
      // Far apart, in an order that never continues the previous read, and never at offset 0.
      const offsets = [5, 40, 13, 30, 2, 22, 45, 9].map((chunk) => chunk * CS + 3 * SEGMENT + 100);
      for (const off of offsets) {
        assert.ok((await s.data.read(ino, off, 4096, content.length)).equals(content.subarray(off, off + 4096)));
      }
      await s.data.whenIdle();
      assert.equal(s.data.stats().segmentsDownloaded, offsets.length);
    });
  });

  it('one read landing near the previous by chance prefetches nothing; a sustained run does', async () => {
    await withStack(CS, { readAheadChunks: 2 }, async (s) => {
      const { ino, content } = await committedFile(s);
      const base = 20 * CS;
      await s.data.read(ino, base, 4096, content.length);
      await s.data.read(ino, base + 4096, 4096, content.length);
      await s.data.whenIdle();
      assert.equal(s.data.stats().segmentsDownloaded, 1, 'two reads in a row: no read-ahead yet');
      await s.data.read(ino, base + 8192, 4096, content.length);
      await s.data.whenIdle();
      for (const chunk of [20, 21, 22]) assert.equal(await chunkCached(s, ino, chunk), true, `chunk ${chunk} prefetched`);
      assert.equal(await chunkCached(s, ino, 23), false, 'no further than readAheadChunks');
    });
  });

  it('a reader starting at offset 0 gets read-ahead at once', async () => {
    await withStack(CS, { readAheadChunks: 1 }, async (s) => {
      const { ino, content } = await committedFile(s);
      await s.data.read(ino, 0, 4096, content.length);
      await s.data.whenIdle();
      assert.equal(await chunkCached(s, ino, 1), true);
    });
  });
});
