/**
 * Random writes, reads, truncates, flushes and reopens against an in-memory model of the file, on
 * the real stack (SQLite file, block folder, AES-GCM), with a small chunk size to cross chunk
 * boundaries, a small write buffer (back-pressure, streaming uploads) and a low compaction limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { BlockCache } from '../../src/data/BlockCache.js';
import { now } from '../../src/util/time.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { bytes, closeStack, createFile, type DataStack, type ExtraOptions, openStack, readAll, sizeOf } from './fixture.js';

const CS = 64 * 1024;
const SPAN = 5 * CS;

type Op =
  | { kind: 'write'; off: number; len: number; seed: number }
  | { kind: 'truncate'; size: number }
  | { kind: 'read'; off: number; len: number }
  | { kind: 'flush' }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), off: fc.nat(SPAN), len: fc.integer({ min: 1, max: CS + CS / 2 }), seed: fc.nat() }) },
  // small writes hit the same chunk many times (slices pile up, compaction kicks in)
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), off: fc.nat(CS * 2), len: fc.integer({ min: 1, max: 300 }), seed: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(SPAN) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), off: fc.nat(SPAN), len: fc.integer({ min: 1, max: 2 * CS }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

class Model {
  buf = Buffer.alloc(0);
  write(off: number, data: Buffer): void {
    if (off + data.length > this.buf.length) this.resize(off + data.length);
    data.copy(this.buf, off);
  }
  resize(size: number): void {
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, Math.min(size, this.buf.length));
    this.buf = next;
  }
}

function suite(name: string, opts: ExtraOptions, runs: number): void {
  describe(name, () => {
    let dir: string;
    let s: DataStack;
    before(async () => {
      dir = await createTempDir('mosaicfs-model-');
      s = await openStack(dir, CS, opts);
    });
    after(async () => {
      await closeStack(s).catch(() => {});
      await removeTempDir(dir);
    });

    it('matches the model at every read, after flushes, and after reopening', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
          const ino = await createFile(s);
          const model = new Model();
          for (const op of ops) {
            switch (op.kind) {
              case 'write': {
                const data = bytes(op.len, op.seed);
                await s.data.write(ino, op.off, data, now());
                model.write(op.off, data);
                break;
              }
              case 'truncate':
                await s.data.truncate(ino, op.size, now());
                model.resize(op.size);
                break;
              case 'read': {
                const size = await sizeOf(s, ino);
                assert.equal(size, model.buf.length, 'size');
                const got = await s.data.read(ino, op.off, op.len, size);
                assert.ok(got.equals(model.buf.subarray(op.off, op.off + op.len)), `read ${op.off}+${op.len}`);
                break;
              }
              case 'flush':
                await s.data.flush(ino);
                assert.equal(s.data.pending(ino), null);
                assert.equal((await s.meta.getattr(ino)).size, model.buf.length, 'committed size after flush');
                break;
              case 'reopen':
                await closeStack(s);
                s = await openStack(dir, CS, opts);
                break;
            }
          }
          assert.ok((await readAll(s, ino)).equals(model.buf), 'content before flush');
          await s.data.flush(ino);
          await s.data.whenIdle(); // let compactions run: they must not change content
          assert.ok((await readAll(s, ino)).equals(model.buf), 'content after flush and compaction');
          await closeStack(s);
          s = await openStack(dir, CS, opts);
          assert.equal((await s.meta.getattr(ino)).size, model.buf.length);
          assert.ok((await readAll(s, ino)).equals(model.buf), 'content after reopen');
          assert.ok(s.data.stats().peakBufferedBytes <= (opts.writeBufferBytes ?? Infinity) + CS + CS / 2, 'buffer bound');
        }),
        { numRuns: runs },
      );
      assert.deepEqual(await s.meta.check(), []);
    });
  });
}

suite('ChunkedFileData vs model (defaults)', {}, 25);
suite('ChunkedFileData vs model (tight buffer, aggressive compaction, tiny cache)', {
  writeBufferBytes: 3 * CS,
  maxSlicesPerChunk: 3,
  uploadConcurrency: 2,
  cache: new BlockCache(CS),
}, 25);
