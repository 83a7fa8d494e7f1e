/**
 * A backend that is down, under the real data layer: writes wait in the bounded write buffer,
 * fsync fails with EIO after the deadline (data kept), and everything drains once it is back.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { FaultInjectingBlockStore } from '../../src/block/compose/FaultInjectingBlockStore.js';
import { now } from '../../src/util/time.js';
import { bytes, createFile, readAll, withStack } from './fixture.js';

const CS = 64 * 1024;

/** The upload deadline is read when the data layer is built (MOSAICFS_UPLOAD_DEADLINE_MS). */
function withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const old = process.env.MOSAICFS_UPLOAD_DEADLINE_MS;
  process.env.MOSAICFS_UPLOAD_DEADLINE_MS = String(ms);
  return fn().finally(() => {
    if (old === undefined) delete process.env.MOSAICFS_UPLOAD_DEADLINE_MS;
    else process.env.MOSAICFS_UPLOAD_DEADLINE_MS = old;
  });
}

describe('backend down', () => {
  it('fsync fails with EIO after the deadline, keeps the data, and succeeds once the backend is back', () =>
    withDeadline(600, async () => {
      let store!: FaultInjectingBlockStore;
      await withStack(
        CS,
        {},
        async (s) => {
          const ino = await createFile(s);
          const content = bytes(2 * CS + 123, 1);
          store.down = true;
          await s.data.write(ino, 0, content, now());
          const t0 = performance.now();
          await assert.rejects(s.data.fsync(ino), (err: unknown) => {
            assert.equal((err as { code?: string }).code, 'EIO');
            assert.match((err as Error).message, /still failing after/);
            return true;
          });
          const waited = performance.now() - t0;
          assert.ok(waited >= 500, `fsync waited for the deadline (${Math.round(waited)} ms)`);
          assert.ok(store.counts.requests > 3, 'the put was retried with backoff, not failed at once');
          assert.ok(s.data.pending(ino), 'data still buffered');
          assert.ok((await readAll(s, ino)).equals(content), 'and readable');
          store.down = false;
          await s.data.fsync(ino);
          assert.equal(s.data.pending(ino), null);
          s.cache.clear();
          assert.ok((await s.data.read(ino, 0, content.length, (await s.meta.getattr(ino)).size)).equals(content));
        },
        (inner) => (store = new FaultInjectingBlockStore(inner, {}, false)),
      );
    }));

  it('an fsync started while the backend is down completes when it comes back within the deadline', () =>
    withDeadline(20_000, async () => {
      let store!: FaultInjectingBlockStore;
      await withStack(
        CS,
        {},
        async (s) => {
          const ino = await createFile(s);
          const content = bytes(CS + 9, 2);
          store.down = true;
          await s.data.write(ino, 0, content, now());
          let done = false;
          const fsync = s.data.fsync(ino).then(() => (done = true));
          await sleep(400);
          assert.equal(done, false, 'fsync waits while the backend is down');
          store.down = false;
          await fsync;
          assert.equal((await s.meta.getattr(ino)).size, content.length);
          s.cache.clear();
          assert.ok((await readAll(s, ino)).equals(content));
        },
        (inner) => (store = new FaultInjectingBlockStore(inner, {}, false)),
      );
    }));

  it('writers block at the buffer bound while the backend is down, and nothing is lost when it returns', () =>
    withDeadline(20_000, async () => {
      let store!: FaultInjectingBlockStore;
      const bound = 4 * CS;
      await withStack(
        CS,
        { writeBufferBytes: bound, uploadConcurrency: 2 },
        async (s) => {
          const ino = await createFile(s);
          const total = 12 * CS;
          const content = bytes(total, 3);
          store.down = true;
          let written = 0;
          const writer = (async () => {
            for (let off = 0; off < total; off += CS / 2) {
              await s.data.write(ino, off, content.subarray(off, off + CS / 2), now());
              written = off + CS / 2;
            }
          })();
          await sleep(500);
          assert.ok(written > 0 && written < total, `writer blocked part way (${written} of ${total})`);
          assert.ok(s.data.stats().bufferedBytes <= bound + CS / 2, `buffer within its bound (${s.data.stats().bufferedBytes})`);
          const stuckAt = written;
          await sleep(300);
          assert.equal(written, stuckAt, 'still blocked, not failing and not dropping');
          store.down = false;
          await writer;
          await s.data.fsync(ino);
          s.cache.clear();
          assert.equal((await s.meta.getattr(ino)).size, total);
          assert.ok((await readAll(s, ino)).equals(content), 'every byte arrived');
        },
        (inner) => (store = new FaultInjectingBlockStore(inner, {}, false)),
      );
    }));
});
