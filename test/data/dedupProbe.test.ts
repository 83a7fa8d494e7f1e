/** Small blocks are stored without a dedup probe; refcounts stay exact (commitSlices counts them). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { now } from '../../src/util/time.js';
import { FaultyBlockStore } from './FaultyBlockStore.js';
import { bytes, createFile, readAll, storedBlocks, withStack } from './fixture.js';

const CS = 1024 * 1024;

describe('dedup probe only for big blocks', () => {
  it('two files with the same small content: one block, two refs, each put without asking; unlink keeps the other', async () => {
    let store!: FaultyBlockStore;
    await withStack(CS, {}, async (s) => {
      const content = bytes(4096, 3);
      const a = await createFile(s, 'a');
      const b = await createFile(s, 'b');
      await s.data.write(a, 0, content, now());
      await s.data.flush(a);
      await s.data.write(b, 0, content, now());
      await s.data.flush(b);
      assert.equal(store.puts, 2, 'the second copy was stored again instead of probed');
      assert.equal(s.data.stats().blocksDeduped, 0);
      const st = await s.meta.stats();
      assert.equal(st.blocks, 1);
      assert.equal((await storedBlocks(s)).count, 1);
      const { blocks } = await s.meta.listBlocks(null, 10);
      assert.equal(blocks[0].refs, 2);
      await s.meta.unlink(ROOT_INO, 'a', now());
      await s.meta.purgeInode(a);
      s.data.drop(a);
      assert.equal((await s.meta.getBlock(blocks[0].id))?.refs, 1);
      assert.equal((await s.data.collectGarbage({ graceMs: 0 })).deleted, 0);
      assert.ok((await readAll(s, b)).equals(content));
      assert.deepEqual(await s.meta.check(), []);
    }, (inner) => (store = new FaultyBlockStore(inner)));
  });

  it('a big block already referenced is probed and not stored again', async () => {
    let store!: FaultyBlockStore;
    await withStack(CS, {}, async (s) => {
      const content = bytes(CS, 4); // one full chunk: 1 MiB, above the probe threshold
      const a = await createFile(s, 'a');
      const b = await createFile(s, 'b');
      await s.data.write(a, 0, content, now());
      await s.data.flush(a);
      await s.data.write(b, 0, content, now());
      await s.data.flush(b);
      assert.equal(store.puts, 1);
      assert.equal(s.data.stats().blocksDeduped, 1);
      const { blocks } = await s.meta.listBlocks(null, 10);
      assert.equal(blocks.length, 1);
      assert.equal(blocks[0].refs, 2);
      assert.ok((await readAll(s, b)).equals(content));
    }, (inner) => (store = new FaultyBlockStore(inner)));
  });
});
