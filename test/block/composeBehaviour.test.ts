/** Tiered and replicated stores when a backend is slow, down, or comes back (real folders under fault wrappers). */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { FaultInjectingBlockStore } from '../../src/block/compose/FaultInjectingBlockStore.js';
import { ReplicatedBlockStore } from '../../src/block/compose/ReplicatedBlockStore.js';
import { TieredBlockStore } from '../../src/block/compose/TieredBlockStore.js';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await createTempDir('mosaicfs-compose-');
  try {
    await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}
const local = (dir: string, name: string) => LocalBlockStore.open(path.join(dir, name));

describe('TieredBlockStore', () => {
  it('blocks wait in the fast tier while the slow one is down, reach it when it is back, and survive a restart in between', () =>
    withDir(async (dir) => {
      const blocks = Array.from({ length: 20 }, (_, i) => randomBlock(1000 + i));
      let slow = new FaultInjectingBlockStore(await local(dir, 'slow'));
      slow.down = true;
      let tiered = TieredBlockStore.open(await local(dir, 'fast'), slow, { retryDelayMs: 20 });
      for (const b of blocks) await tiered.put(b.id, b.data);
      for (const b of blocks) assert.ok((await tiered.get(b.id)).equals(b.data), 'readable from fast while slow is down');
      await sleep(100);
      assert.ok(tiered.stats().moveFailures > 0, 'moves were tried and failed');
      await tiered.close(); // restart with everything still only in fast

      slow = new FaultInjectingBlockStore(await local(dir, 'slow'));
      tiered = TieredBlockStore.open(await local(dir, 'fast'), slow, { retryDelayMs: 20 });
      try {
        await tiered.drain();
        const slowOnly = await local(dir, 'slow');
        for (const b of blocks) assert.ok((await slowOnly.get(b.id)).equals(b.data), 'reached the slow tier after the restart');
        await slowOnly.close();
        // Read from either: drop the fast copies, reads come from slow.
        const fast = await local(dir, 'fast');
        for (const b of blocks.slice(0, 5)) await fast.delete(b.id);
        await fast.close();
        for (const b of blocks.slice(0, 5)) assert.ok((await tiered.get(b.id)).equals(b.data));
        assert.ok(tiered.stats().slowReads >= 5);
      } finally {
        await tiered.close();
      }
    }));

  it('a bounded queue: put waits when the slow tier falls behind', () =>
    withDir(async (dir) => {
      const slow = new FaultInjectingBlockStore(await local(dir, 'slow'));
      slow.down = true;
      const tiered = TieredBlockStore.open(await local(dir, 'fast'), slow, { queueLimit: 3, concurrency: 1, retryDelayMs: 10 });
      try {
        const blocks = Array.from({ length: 8 }, (_, i) => randomBlock(100 + i));
        let done = 0;
        const puts = Promise.all(blocks.map((b) => tiered.put(b.id, b.data).then(() => done++)));
        await sleep(200);
        assert.ok(done < blocks.length, `puts wait for queue space (${done} done)`);
        // At most queueLimit waiting, plus the block each mover holds (re-queued after a failed move).
        assert.ok(tiered.stats().queued <= 3 + 1, `queue bounded (${tiered.stats().queued})`);
        slow.down = false;
        await puts;
        await tiered.drain();
        for (const b of blocks) assert.ok(await slow.inner.has(b.id));
      } finally {
        await tiered.close();
      }
    }));
});

describe('ReplicatedBlockStore', () => {
  it('with one replica down, quorum 1 writes succeed, reads fall back, and the missed copy lands when it is back', () =>
    withDir(async (dir) => {
      const a = new FaultInjectingBlockStore(await local(dir, 'a'));
      const b = new FaultInjectingBlockStore(await local(dir, 'b'));
      const store = new ReplicatedBlockStore([a, b], { writeQuorum: 1, hedgeDelayMs: 10_000 });
      try {
        b.down = true;
        const blk = randomBlock(5000);
        await store.put(blk.id, blk.data);
        assert.ok(await a.inner.has(blk.id));
        assert.equal(await b.inner.has(blk.id), false);
        assert.ok(store.stats().pendingCopies > 0, 'the missed copy is retried in the background');
        b.down = false;
        await store.idle();
        assert.ok((await b.inner.get(blk.id)).equals(blk.data), 'the background copy landed');
        a.down = true;
        assert.ok((await store.get(blk.id)).equals(blk.data), 'read falls back to the live replica');
        await store.sync(); // one of two replicas synced: enough for quorum 1
        a.down = false;
        b.down = true;
        a.configure({ ops: ['put'] });
        await assert.rejects(new ReplicatedBlockStore([a, b], { ownsReplicas: false }).put(randomBlock(10).id, Buffer.alloc(10)), /stored on [01] of 2 required replicas/);
      } finally {
        a.down = b.down = false;
        await store.close();
      }
    }));

  it('hedges: a replica that hangs does not hold up a read', () =>
    withDir(async (dir) => {
      const slow = new FaultInjectingBlockStore(await local(dir, 'a'), { hangRate: 1, ops: ['get'] });
      const fast = await local(dir, 'b');
      const store = new ReplicatedBlockStore([slow, fast], { hedgeDelayMs: 50 });
      try {
        const blk = randomBlock(3000);
        await store.put(blk.id, blk.data);
        // A fresh store has no latency history: it asks replicas in config order, the hanging one first.
        const reader = new ReplicatedBlockStore([slow, fast], { hedgeDelayMs: 50, ownsReplicas: false });
        const t0 = performance.now();
        assert.ok((await reader.get(blk.id)).equals(blk.data));
        assert.ok(performance.now() - t0 < 2000, 'answered by the hedge');
        assert.ok(slow.counts.hangs >= 1, 'the first replica was asked and hung');
      } finally {
        await store.close();
      }
    }));
});
