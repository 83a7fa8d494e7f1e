import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { makeVolume, ROOT, storedAndRecordedBlocks, type TempVolume } from './harness.js';

const { O_RDWR, O_WRONLY, O_APPEND, O_CREAT, O_RDONLY } = fsc;
const SPAN = 10_000; // offsets span several 1 KiB chunks

type Op =
  | { kind: 'write'; h: number; offset: number; data: Uint8Array }
  | { kind: 'append'; data: Uint8Array }
  | { kind: 'read'; h: number; offset: number; length: number }
  | { kind: 'truncate'; size: number; viaHandle: boolean }
  | { kind: 'flush'; h: number }
  | { kind: 'reopen'; h: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), h: fc.nat(1), offset: fc.nat(SPAN), data: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('append' as const), data: fc.uint8Array({ minLength: 1, maxLength: 800 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), h: fc.nat(1), offset: fc.nat(SPAN + 2000), length: fc.nat(4000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(SPAN), viaHandle: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), h: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const), h: fc.nat(1) }) },
);

/** The reference: a file is a growable byte array. */
class ModelFile {
  bytes = Buffer.alloc(0);
  write(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    if (end > this.bytes.length) this.bytes = Buffer.concat([this.bytes, Buffer.alloc(end - this.bytes.length)]);
    this.bytes.set(data, offset);
  }
  truncate(size: number): void {
    this.bytes = size <= this.bytes.length ? Buffer.from(this.bytes.subarray(0, size)) : Buffer.concat([this.bytes, Buffer.alloc(size - this.bytes.length)]);
  }
  read(offset: number, length: number): Buffer {
    return Buffer.from(this.bytes.subarray(Math.min(offset, this.bytes.length), Math.min(offset + length, this.bytes.length)));
  }
}

for (const closeWaitsForUpload of [true, false]) describe(`Vfs file ops against an in-memory model (fast-check), close ${closeWaitsForUpload ? 'waits for' : 'does not wait for'} the upload`, () => {
  let v: TempVolume;
  before(async () => { v = await makeVolume({ chunkSize: 1024, closeWaitsForUpload }); });
  after(async () => { await v.dispose(); });

  it('random writes, appends, reads, truncates, flushes and reopen through handles match the model', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const name = `model-${run++}`;
        const model = new ModelFile();
        const created = await v.vfs.create(ROOT, ROOT_INO, name, 0o644, O_CREAT | O_RDWR);
        const ino = created.attr.ino;
        const flagsOf = [O_RDWR, O_RDWR];
        const fhs = [created.fh, (await v.vfs.open(ROOT, ino, O_RDWR)).fh];
        const appender = (await v.vfs.open(ROOT, ino, O_WRONLY | O_APPEND)).fh;
        try {
          for (const op of ops) {
            switch (op.kind) {
              case 'write':
                assert.equal(await v.vfs.write(ROOT, fhs[op.h], op.offset, op.data), op.data.length);
                model.write(op.offset, op.data);
                break;
              case 'append':
                assert.equal(await v.vfs.write(ROOT, appender, 0, op.data), op.data.length);
                model.write(model.bytes.length, op.data);
                break;
              case 'read':
                assert.deepEqual(await v.vfs.read(ROOT, fhs[op.h], op.offset, op.length), model.read(op.offset, op.length), `read ${op.offset}+${op.length}`);
                break;
              case 'truncate':
                await v.vfs.setattr(ROOT, ino, { size: op.size }, op.viaHandle ? fhs[0] : undefined);
                model.truncate(op.size);
                break;
              case 'flush':
                await v.vfs.flush(ROOT, fhs[op.h]);
                break;
              case 'reopen':
                await v.vfs.release(ROOT, fhs[op.h]);
                fhs[op.h] = (await v.vfs.open(ROOT, ino, flagsOf[op.h])).fh;
                break;
            }
            assert.equal((await v.vfs.getattr(ROOT, ino)).size, model.bytes.length, `size after ${op.kind}`);
          }
        } finally {
          for (const fh of [...fhs, appender]) await v.vfs.release(ROOT, fh);
        }
        // After every handle is released everything is committed (write-back: is being committed,
        // and stat sees it meanwhile): read it back on a fresh handle.
        if (closeWaitsForUpload) assert.equal((await v.meta.getattr(ino)).size, model.bytes.length);
        assert.equal((await v.vfs.getattr(ROOT, ino)).size, model.bytes.length);
        const r = await v.vfs.open(ROOT, ino, O_RDONLY);
        assert.deepEqual(await v.vfs.read(ROOT, r.fh, 0, SPAN * 2), model.bytes);
        await v.vfs.release(ROOT, r.fh);
        await v.vfs.unlink(ROOT, ROOT_INO, name);
      }),
      { numRuns: 40 },
    );
    assert.deepEqual(await v.meta.check(), []);
    // Every file was unlinked, some with uploads in flight: after GC no block is left, none leaked.
    await v.data.whenIdle();
    await v.data.collectGarbage({ graceMs: 0 });
    assert.deepEqual(await storedAndRecordedBlocks(v), { stored: [], recorded: [] });
  });
});
