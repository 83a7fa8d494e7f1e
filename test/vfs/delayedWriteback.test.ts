/**
 * Delayed write-back (writebackDelayMs, the embedded volume's `-o writeback_delay`): a closed file
 * waits before its upload starts; a file deleted meanwhile is never uploaded; fsync, a rename over
 * another file, an in-place rewrite (O_TRUNC), a half-full buffer and unmount start it sooner.
 */
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { HeldPutStore } from './HeldPutStore.js';
import { makeVolume, ROOT, storedAndRecordedBlocks, type TempVolume } from './harness.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC } = fsc;
/** Long enough that no upload starts by the delay while a test runs. */
const NEVER = 600_000;

describe('delayed write-back of closed files', () => {
  let v: TempVolume | undefined;
  let store: HeldPutStore;
  afterEach(async () => {
    store?.release();
    await v?.dispose();
    v = undefined;
  });

  async function volume(delayMs: number, writeBufferBytes?: number): Promise<TempVolume> {
    v = await makeVolume({
      chunkSize: 64 * 1024, closeWaitsForUpload: false, writebackDelayMs: delayMs, writeBufferBytes,
      wrapBlocks: (inner) => (store = new HeldPutStore(inner)),
    });
    return v;
  }

  async function writeAndClose(vol: TempVolume, name: string, data: Buffer): Promise<number> {
    const { fh, attr } = await vol.vfs.create(ROOT, ROOT_INO, name, 0o644, O_CREAT | O_EXCL | O_WRONLY);
    await vol.vfs.write(ROOT, fh, 0, data);
    await vol.vfs.release(ROOT, fh);
    return attr.ino;
  }

  it('a closed file is not uploaded before its delay; reads and stat see it; unlink before then stores nothing', async () => {
    const vol = await volume(NEVER);
    const data = Buffer.alloc(5000, 3);
    const ino = await writeAndClose(vol, 'a', data);
    await new Promise((r) => setImmediate(r));
    assert.equal(store.puts, 0, 'no upload at close');
    assert.equal((await vol.vfs.getattr(ROOT, ino)).size, data.length);
    const { fh } = await vol.vfs.open(ROOT, ino, fsc.O_RDONLY);
    assert.deepEqual(await vol.vfs.read(ROOT, fh, 0, 10_000), data);
    await vol.vfs.release(ROOT, fh);
    await vol.vfs.unlink(ROOT, ROOT_INO, 'a');
    await vol.data.whenIdle();
    assert.equal(store.puts, 0, 'deleted before its turn: never uploaded');
    await vol.data.collectGarbage({ graceMs: 0 });
    assert.deepEqual(await storedAndRecordedBlocks(vol), { stored: [], recorded: [] });
    assert.deepEqual(await vol.meta.check(), []);
  });

  it('the upload starts once the delay has passed', async () => {
    const vol = await volume(50);
    store.holding = true;
    await writeAndClose(vol, 'b', Buffer.alloc(3000, 1));
    assert.equal(store.waiting, 0);
    const alive = setInterval(() => {}, 1000); // the write-back timer is unref'd (a mount's fd keeps a daemon alive)
    await store.heldPuts(1).finally(() => clearInterval(alive)); // the timer started it, nobody asked
    store.release();
    await vol.data.whenIdle();
    assert.equal((await vol.meta.lookup(ROOT_INO, 'b'))?.size, 3000);
  });

  it('fsync of a waiting file uploads and commits it at once', async () => {
    const vol = await volume(NEVER);
    const ino = await writeAndClose(vol, 'c', Buffer.alloc(4000, 2));
    const { fh } = await vol.vfs.open(ROOT, ino, O_WRONLY);
    await vol.vfs.fsync(ROOT, fh, false);
    assert.equal((await vol.meta.getattr(ino)).size, 4000, 'committed when fsync returned');
    await vol.vfs.release(ROOT, fh);
  });

  it('rename over an existing file commits the new data first (no empty file after a crash)', async () => {
    const vol = await volume(NEVER);
    await writeAndClose(vol, 'doc', Buffer.from('old contents'));
    await vol.data.whenIdle();
    const tmp = await writeAndClose(vol, 'doc.tmp', Buffer.from('new contents, longer'));
    assert.equal((await vol.meta.getattr(tmp)).size, 0, 'still waiting');
    await vol.vfs.rename(ROOT, ROOT_INO, 'doc.tmp', ROOT_INO, 'doc', 0);
    assert.equal((await vol.meta.lookup(ROOT_INO, 'doc'))?.size, 'new contents, longer'.length, 'committed before the rename');
    // A rename to a free name needs no such care: the file keeps waiting.
    const other = await writeAndClose(vol, 'x', Buffer.from('x'));
    await vol.vfs.rename(ROOT, ROOT_INO, 'x', ROOT_INO, 'y', 0);
    assert.equal((await vol.meta.getattr(other)).size, 0);
  });

  it('a file rewritten in place (O_TRUNC) starts its upload at close', async () => {
    const vol = await volume(NEVER);
    const ino = await writeAndClose(vol, 'r', Buffer.from('first version'));
    await vol.data.whenIdle();
    store.holding = true;
    const { fh } = await vol.vfs.open(ROOT, ino, O_WRONLY | O_TRUNC);
    await vol.vfs.write(ROOT, fh, 0, Buffer.from('second'));
    await vol.vfs.release(ROOT, fh);
    await store.heldPuts(1); // started by the close, not by a timer
    store.release();
    await vol.data.whenIdle();
    assert.equal((await vol.meta.getattr(ino)).size, 'second'.length);
  });

  it('waiting bytes beyond half the write buffer start the oldest files', async () => {
    const vol = await volume(NEVER, 64 * 1024);
    store.holding = true;
    await writeAndClose(vol, 'old', Buffer.alloc(20_000, 1));
    await writeAndClose(vol, 'mid', Buffer.alloc(10_000, 2));
    assert.equal(store.waiting, 0, '30,000 bytes wait: under half of 64 KiB');
    await writeAndClose(vol, 'new', Buffer.alloc(10_000, 3));
    await store.heldPuts(1);
    assert.equal(store.waiting, 1, 'only the oldest started');
    store.release();
    await vol.data.whenIdle();
    assert.equal((await vol.meta.lookup(ROOT_INO, 'old'))?.size, 20_000);
  });

  it('unmount uploads every waiting file', async () => {
    const vol = await volume(NEVER);
    for (let i = 0; i < 20; i++) await writeAndClose(vol, `f${i}`, Buffer.alloc(100 + i, i));
    assert.equal(store.puts, 0);
    await vol.close();
    const parts = await vol.reopen();
    for (let i = 0; i < 20; i++) assert.equal((await parts.meta.lookup(ROOT_INO, `f${i}`))?.size, 100 + i);
    assert.deepEqual(await parts.meta.check(), []);
  });
});
