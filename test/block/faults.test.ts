/**
 * Faults under the real data layer (SQLite MetaStore + ChunkedFileData + AES-GCM codec):
 * a write storm with 20% of backend requests failing loses nothing; a corrupt replica is read
 * around; a single corrupt store gives EIO, never wrong bytes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FaultInjectingBlockStore } from '../../src/block/compose/FaultInjectingBlockStore.js';
import { ReplicatedBlockStore } from '../../src/block/compose/ReplicatedBlockStore.js';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { IntegrityError } from '../../src/errors.js';
import { now } from '../../src/util/time.js';
import { bytes, closeStack, createFile, openStack, readAll, sizeOf, withStack } from '../data/fixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const CS = 64 * 1024;

describe('fault injection under the data layer', () => {
  it('with 20% of backend requests failing, a write storm loses nothing and every fsync\'d byte reads back', async () => {
    let faulty!: FaultInjectingBlockStore;
    await withStack(
      CS,
      { writeBufferBytes: 8 * CS, uploadConcurrency: 3 },
      async (s) => {
        // Data requests fail; sync is left alone: ChunkedFileData.fsync calls it without retries.
        faulty.configure({ errorRate: 0.2, delayRate: 0.1, delayMs: 3, ops: ['put', 'get', 'getRange', 'has'] });
        const files = await Promise.all(Array.from({ length: 12 }, () => createFile(s)));
        const models = files.map(() => Buffer.alloc(0));
        const synced: Buffer[] = files.map(() => Buffer.alloc(0));
        let rnd = 12345;
        const next = (n: number): number => {
          rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
          return rnd % n;
        };
        await Promise.all(
          files.map(async (ino, f) => {
            for (let i = 0; i < 25; i++) {
              const len = 1 + next(3 * CS);
              const off = next(Math.max(1, models[f].length + CS));
              const d = bytes(len, f * 100 + i);
              await s.data.write(ino, off, d, now());
              if (off + len > models[f].length) models[f] = Buffer.concat([models[f], Buffer.alloc(off + len - models[f].length)]);
              d.copy(models[f], off);
              if (i % 5 === 4) {
                await s.data.fsync(ino);
                synced[f] = Buffer.from(models[f]);
              }
            }
            await s.data.fsync(ino);
            synced[f] = Buffer.from(models[f]);
          }),
        );
        assert.ok(faulty.counts.errors > 20, `faults were injected (${faulty.counts.errors} of ${faulty.counts.requests} requests)`);
        // Read back with faults still on (reads retry transient failures too).
        for (let f = 0; f < files.length; f++) {
          assert.equal(await sizeOf(s, files[f]), synced[f].length);
          assert.ok((await readAll(s, files[f])).equals(synced[f]), `file ${f} reads back with faults on`);
        }
        // And from the store alone: committed metadata + blocks, no buffer, no cache.
        faulty.configure({ errorRate: 0, delayRate: 0 });
        s.cache.clear();
        for (let f = 0; f < files.length; f++) {
          assert.equal(s.data.pending(files[f]), null, 'nothing left buffered after fsync');
          const size = (await s.meta.getattr(files[f])).size;
          assert.ok((await s.data.read(files[f], 0, size, size)).equals(synced[f]), `file ${f} committed`);
        }
      },
      (store) => (faulty = new FaultInjectingBlockStore(store, { seed: 42 }, false)),
    );
  });

  it('a corrupt reply from one replica is retried from the other: the data is right', async () => {
    const dir = await createTempDir('mosaicfs-replica-');
    const replicaB = async () => LocalBlockStore.open(path.join(dir, 'blocks-b'));
    try {
      // Written through a replicated store: both folders hold every block.
      const b1 = await replicaB();
      let s = await openStack(dir, CS, {}, (local) => new ReplicatedBlockStore([b1, local], { ownsReplicas: false }));
      const ino = await createFile(s);
      const content = bytes(3 * CS + 777, 9);
      await s.data.write(ino, 0, content, now());
      await s.data.fsync(ino);
      await closeStack(s);
      await b1.close();
      // Reopened with replica b corrupting every reply; a fresh store asks replicas in config order, b first.
      const bad = new FaultInjectingBlockStore(await replicaB(), { seed: 3, corruptRate: 1 });
      let replicated!: ReplicatedBlockStore;
      s = await openStack(dir, CS, {}, (local) => (replicated = new ReplicatedBlockStore([bad, local], { ownsReplicas: false, hedgeDelayMs: 10_000 })));
      try {
        for (let round = 0; round < 3; round++) {
          s.cache.clear();
          assert.ok((await readAll(s, ino)).equals(content), `round ${round}`);
        }
        assert.ok(bad.counts.corruptions > 0, 'the corrupt replica was asked');
        assert.ok(replicated.stats().corruptReplies > 0, 'and its replies were rejected');
        assert.ok(replicated.stats().fallbacks > 0, 'and the other replica answered');
      } finally {
        await closeStack(s);
        await bad.close();
      }
    } finally {
      await removeTempDir(dir);
    }
  });

  it('a single store returning corrupt or truncated replies gives EIO, never wrong bytes', async () => {
    let faulty!: FaultInjectingBlockStore;
    await withStack(
      CS,
      {},
      async (s) => {
        const ino = await createFile(s);
        const content = bytes(2 * CS + 5, 4);
        await s.data.write(ino, 0, content, now());
        await s.data.fsync(ino);
        for (const mode of [{ corruptRate: 1 }, { truncateRate: 1 }]) {
          faulty.configure({ corruptRate: 0, truncateRate: 0, ...mode });
          for (let i = 0; i < 3; i++) {
            s.cache.clear();
            await assert.rejects(readAll(s, ino), (err: unknown) => {
              assert.ok(err instanceof IntegrityError, `IntegrityError, got ${String(err)}`);
              assert.equal(err.code, 'EIO');
              return true;
            });
          }
        }
        faulty.configure({ corruptRate: 0, truncateRate: 0 });
        s.cache.clear();
        assert.ok((await readAll(s, ino)).equals(content), 'reads recover once the store answers correctly');
      },
      (store) => (faulty = new FaultInjectingBlockStore(store, { seed: 5 }, false)),
    );
  });
});

