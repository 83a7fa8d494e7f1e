/** Integrity failures, missing blocks, failing and slow uploads, and the write-buffer bound. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { describe, it } from 'node:test';
import { IntegrityError } from '../../src/errors.js';
import { now } from '../../src/util/time.js';
import { FaultyBlockStore } from './FaultyBlockStore.js';
import { bytes, cachedSegments, closeStack, createFile, openStack, readAll, withStack } from './fixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const CS = 64 * 1024;

describe('ChunkedFileData faults', () => {
  it('a tampered block reads as EIO, is never cached, and reads recover once it is repaired', async () => {
    await withStack(CS, {}, async (s) => {
      const ino = await createFile(s);
      const content = bytes(CS + 100, 5);
      await s.data.write(ino, 0, content, now());
      await s.data.flush(ino);
      const slices = (await s.meta.readChunks(ino, 0, 0)).get(0)!;
      const id = slices[0].blockId;
      const file = s.store.pathOf(id);
      const original = await fsp.readFile(file);
      const bad = Buffer.from(original);
      bad[bad.length - 20] ^= 0x40;
      await fsp.writeFile(file, bad);
      s.cache.clear();

      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(s.data.read(ino, 0, 100, content.length), (err: unknown) => {
          assert.ok(err instanceof IntegrityError);
          assert.equal(err.code, 'EIO');
          assert.equal(err.blockId, id);
          return true;
        });
        assert.equal((await cachedSegments(s, id)).cached, 0, 'bad block not cached');
      }
      // the other chunk is unaffected
      assert.ok((await s.data.read(ino, CS, 100, content.length)).equals(content.subarray(CS)));
      await fsp.writeFile(file, original);
      assert.ok((await readAll(s, ino)).equals(content));
    });
  });

  it('a missing block reads as EIO', async () => {
    await withStack(CS, {}, async (s) => {
      const ino = await createFile(s);
      await s.data.write(ino, 0, bytes(1000, 1), now());
      await s.data.flush(ino);
      s.cache.clear();
      const id = (await s.meta.readChunks(ino, 0, 0)).get(0)![0].blockId;
      await fsp.rm(s.store.pathOf(id));
      await assert.rejects(s.data.read(ino, 0, 1000, 1000), { code: 'EIO' });
    });
  });

  it('a failing upload keeps the data buffered and readable; flush reports it and a later flush succeeds', async () => {
    const dir = await createTempDir('mosaicfs-faults-');
    let faulty!: FaultyBlockStore;
    let s = await openStack(dir, CS, {}, (store) => (faulty = new FaultyBlockStore(store)));
    try {
      const ino = await createFile(s);
      const content = bytes(2 * CS + 300, 11);
      faulty.failPuts = true;
      await s.data.write(ino, 0, content, now()); // full chunks start uploading (and fail) in the background
      await assert.rejects(s.data.flush(ino), { code: 'EIO' });
      assert.ok(s.data.pending(ino), 'still buffered');
      assert.ok((await readAll(s, ino)).equals(content), 'read-your-writes while uploads fail');
      assert.equal((await s.meta.getattr(ino)).size, 0, 'nothing committed');
      faulty.failPuts = false;
      await s.data.flush(ino);
      assert.equal(s.data.pending(ino), null);
      await closeStack(s);
      s = await openStack(dir, CS);
      assert.ok((await readAll(s, ino)).equals(content), 'committed data survives reopen');
    } finally {
      faulty.failPuts = false;
      await closeStack(s).catch(() => {});
      await removeTempDir(dir);
    }
  });

  it('back-pressure: the buffer never holds more than the bound plus one write, and nothing is lost', async () => {
    let faulty!: FaultyBlockStore;
    const bound = 4 * CS;
    const maxWrite = 20000;
    await withStack(
      CS,
      { writeBufferBytes: bound, uploadConcurrency: 2 },
      async (s) => {
        faulty.putDelayMs = 5;
        const files = [await createFile(s), await createFile(s), await createFile(s)];
        const models = files.map(() => Buffer.alloc(6 * CS));
        let peak = 0;
        const sampler = setInterval(() => {
          peak = Math.max(peak, s.data.stats().bufferedBytes);
        }, 1);
        try {
          await Promise.all(
            files.map(async (ino, f) => {
              for (let i = 0; i < 60; i++) {
                const len = 1 + ((i * 7919 + f * 31) % maxWrite);
                const off = (i * 104729 + f * 7) % (6 * CS - len);
                const d = bytes(len, f * 1000 + i);
                await s.data.write(ino, off, d, now());
                d.copy(models[f], off);
                peak = Math.max(peak, s.data.stats().bufferedBytes);
              }
            }),
          );
        } finally {
          clearInterval(sampler);
        }
        const st = s.data.stats();
        assert.ok(st.peakBufferedBytes <= bound + maxWrite, `peak ${st.peakBufferedBytes} > ${bound} + ${maxWrite}`);
        assert.ok(peak <= bound + maxWrite);
        assert.ok(st.peakBufferedBytes > bound / 2, 'the buffer was actually under pressure');
        assert.ok(faulty.puts > 0, 'pressure forced uploads before any flush');
        await s.data.flushAll();
        for (let f = 0; f < files.length; f++) {
          const size = (await s.meta.getattr(files[f])).size;
          const got = await s.data.read(files[f], 0, size, size);
          assert.ok(got.equals(models[f].subarray(0, size)), `file ${f}`);
        }
      },
      (store) => (faulty = new FaultyBlockStore(store)),
    );
  });

  it('back-pressure with a failing store fails the write instead of hanging or dropping data', async () => {
    let faulty!: FaultyBlockStore;
    await withStack(
      CS,
      { writeBufferBytes: 2 * CS },
      async (s) => {
        faulty.failPuts = true;
        const ino = await createFile(s);
        let failed: unknown;
        let written = 0;
        for (let i = 0; i < 10 && !failed; i++) {
          try {
            await s.data.write(ino, i * CS, bytes(CS / 2, i), now());
            written++;
          } catch (err) {
            failed = err;
          }
        }
        assert.ok(failed, 'a write failed once the buffer was full');
        assert.equal((failed as { code?: string }).code, 'EIO');
        assert.ok(written >= 3);
        faulty.failPuts = false;
      },
      (store) => (faulty = new FaultyBlockStore(store)),
    );
  });
});
