/** Garbage collection: frees unreferenced blocks, never referenced ones, never one a flush is committing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { now } from '../../src/util/time.js';
import { bytes, createFile, readAll, storedBlocks, withStack } from './fixture.js';

const CS = 64 * 1024;

describe('ChunkedFileData garbage collection', () => {
  it('frees blocks no file references and keeps the referenced ones', async () => {
    await withStack(CS, {}, async (s) => {
      const a = await createFile(s);
      const b = await createFile(s);
      const shared = bytes(CS, 1);
      await s.data.write(a, 0, Buffer.concat([shared, bytes(CS, 2), bytes(500, 3)]), now());
      await s.data.flush(a);
      await s.data.write(b, 0, shared, now()); // dedups with a's first chunk
      await s.data.flush(b);
      assert.equal((await storedBlocks(s)).count, 3);
      assert.deepEqual(await s.data.collectGarbage(), { deleted: 0, bytes: 0 });

      await s.data.truncate(a, 0, now());
      const freed = await s.data.collectGarbage();
      assert.equal(freed.deleted, 2);
      assert.equal(freed.bytes, s.codec.sealedSize(CS) + s.codec.sealedSize(500));
      assert.equal((await storedBlocks(s)).count, 1);
      assert.equal((await s.meta.stats()).blocks, 1);
      s.cache.clear();
      assert.ok((await readAll(s, b)).equals(shared), 'the shared block survived');
      assert.deepEqual(await s.meta.check(), []);
    });
  });

  it('respects the grace period', async () => {
    await withStack(CS, {}, async (s) => {
      const a = await createFile(s);
      await s.data.write(a, 0, bytes(1000, 1), now());
      await s.data.flush(a);
      await s.data.truncate(a, 0, now());
      assert.equal((await s.data.collectGarbage({ graceMs: 60_000 })).deleted, 0);
      assert.equal((await storedBlocks(s)).count, 1);
      assert.equal((await s.data.collectGarbage({ graceMs: 0 })).deleted, 1);
      assert.equal((await storedBlocks(s)).count, 0);
    });
  });

  it('runs in the background after a purge', async () => {
    await withStack(CS, { gcDelayMs: 20 }, async (s) => {
      const a = await createFile(s, 'doomed');
      await s.data.write(a, 0, bytes(3 * CS, 4), now());
      await s.data.flush(a);
      assert.equal((await storedBlocks(s)).count, 3);
      await s.meta.unlink(ROOT_INO, 'doomed', now());
      await s.meta.purgeInode(a);
      s.data.drop(a);
      const deadline = Date.now() + 5000;
      while ((await storedBlocks(s)).count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await storedBlocks(s)).count, 0);
      assert.equal((await s.meta.stats()).blocks, 0);
    });
  });

  it('never deletes a block that a concurrent flush re-references', async () => {
    await withStack(CS, {}, async (s) => {
      const content = bytes(CS + 77, 9);
      const a = await createFile(s);
      await s.data.write(a, 0, content, now());
      await s.data.flush(a);
      for (let round = 0; round < 15; round++) {
        const b = await createFile(s);
        await s.data.truncate(a, 0, now()); // content's blocks now have refs 0
        await s.data.write(b, 0, content, now());
        await Promise.all([s.data.flush(b), s.data.collectGarbage(), s.data.collectGarbage()]);
        await s.data.collectGarbage();
        s.cache.clear();
        assert.ok((await readAll(s, b)).equals(content), `round ${round}`);
        assert.equal((await storedBlocks(s)).count, 2);
        await s.data.truncate(b, 0, now());
      }
      assert.deepEqual(await s.meta.check(), []);
    });
  });
});
