/**
 * Write-back close (closeWaitsForUpload: false, the embedded volume): close returns while the
 * upload is held in the block store; everything else stays correct meanwhile.
 */
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FsError } from '../../src/errors.js';
import { ROOT_INO, type Timespec } from '../../src/meta/MetaStore.js';
import { compareTime, now } from '../../src/util/time.js';
import { HeldPutStore, stateOf } from './HeldPutStore.js';
import { makeVolume, rejectsWith, ROOT, storedAndRecordedBlocks, type TempVolume } from './harness.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC } = fsc;

const CONTENT = Buffer.alloc(4096, 7);

describe('write-back close (close does not wait for the upload)', () => {
  let v: TempVolume;
  let store: HeldPutStore;

  beforeEach(async () => {
    v = await makeVolume({
      chunkSize: 64 * 1024,
      closeWaitsForUpload: false,
      wrapBlocks: (inner) => (store = new HeldPutStore(inner)),
    });
  });
  afterEach(async () => {
    store.release();
    await v.dispose();
  });

  /** Create `name`, write CONTENT, close: returns the inode once close has returned. */
  async function writeAndClose(name: string, data: Buffer = CONTENT): Promise<number> {
    const { fh, attr } = await v.vfs.create(ROOT, ROOT_INO, name, 0o644, O_CREAT | O_EXCL | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, data);
    await v.vfs.flush(ROOT, fh);
    await v.vfs.release(ROOT, fh);
    return attr.ino;
  }

  it('close returns while the put is held; reads and stat see the data; fsync waits for it', async () => {
    store.holding = true;
    const ino = await writeAndClose('a');
    await store.heldPuts(1);
    assert.equal((await v.meta.getattr(ino)).size, 0, 'nothing committed yet: the upload is held');
    assert.equal((await v.vfs.getattr(ROOT, ino)).size, CONTENT.length);
    const r = await v.vfs.open(ROOT, ino, O_RDWR);
    assert.deepEqual(await v.vfs.read(ROOT, r.fh, 0, 10_000), CONTENT);
    const fsync = v.vfs.fsync(ROOT, r.fh, false);
    assert.equal(await stateOf(fsync), 'pending', 'fsync must wait for the held upload');
    store.release();
    await fsync;
    assert.equal((await v.meta.getattr(ino)).size, CONTENT.length, 'committed when fsync returned');
    await v.vfs.release(ROOT, r.fh);
    assert.deepEqual(await v.meta.check(), []);
  });

  it('an upload failing after close is reported by the next fsync, once; the data stays buffered', async () => {
    store.holding = true;
    const ino = await writeAndClose('b');
    await store.heldPuts(1);
    store.fail(new FsError('ENOSPC', 'injected: store full'));
    await v.data.whenIdle();
    const r = await v.vfs.open(ROOT, ino, O_RDWR);
    assert.deepEqual(await v.vfs.read(ROOT, r.fh, 0, 10_000), CONTENT, 'still readable from the buffer');
    await rejectsWith(v.vfs.fsync(ROOT, r.fh, false), 'ENOSPC');
    // The fsync above retried the upload (the store works again): reported once, then committed.
    await v.vfs.fsync(ROOT, r.fh, false);
    assert.equal((await v.meta.getattr(ino)).size, CONTENT.length);
    await v.vfs.release(ROOT, r.fh);
  });

  it('an upload failing after close is reported by the next close of the file', async () => {
    store.holding = true;
    const ino = await writeAndClose('c');
    await store.heldPuts(1);
    store.fail(new FsError('ENOSPC', 'injected: store full'));
    await v.data.whenIdle();
    const r = await v.vfs.open(ROOT, ino, O_RDONLY);
    await rejectsWith(v.vfs.flush(ROOT, r.fh), 'ENOSPC');
    await v.vfs.flush(ROOT, r.fh);
    await v.vfs.release(ROOT, r.fh);
    await v.data.flushAll();
    assert.equal((await v.meta.getattr(ino)).size, CONTENT.length, 'the retry stored it');
  });

  it('handles say noFlush; a RELEASE without a FLUSH (FOPEN_NOFLUSH) keeps an upload error for the next fsync', async () => {
    store.holding = true;
    const created = await v.vfs.create(ROOT, ROOT_INO, 'n', 0o644, O_CREAT | O_EXCL | O_WRONLY);
    assert.equal(created.noFlush, true, 'write-back: RELEASE does what FLUSH would');
    await v.vfs.write(ROOT, created.fh, 0, CONTENT);
    await v.vfs.release(ROOT, created.fh); // close(2) with FOPEN_NOFLUSH: no FLUSH before it
    await store.heldPuts(1);
    store.fail(new FsError('EIO', 'injected: store down'));
    await v.data.whenIdle();
    // A reader's open and close (cat) must not consume the error nobody has been told about.
    const reader = await v.vfs.open(ROOT, created.attr.ino, O_RDONLY);
    assert.deepEqual(await v.vfs.read(ROOT, reader.fh, 0, 10_000), CONTENT, 'still readable from the buffer');
    await v.vfs.release(ROOT, reader.fh);
    const w = await v.vfs.open(ROOT, created.attr.ino, O_WRONLY);
    await rejectsWith(v.vfs.fsync(ROOT, w.fh, false), 'EIO');
    await v.vfs.fsync(ROOT, w.fh, false);
    assert.equal((await v.meta.getattr(created.attr.ino)).size, CONTENT.length, 'the retry stored it');
    await v.vfs.release(ROOT, w.fh);
  });

  it('utimens and chmod after the write survive the background commit; ctime never goes back', async () => {
    store.holding = true;
    const { fh, attr } = await v.vfs.create(ROOT, ROOT_INO, 'd', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, CONTENT);
    const old: Timespec = { sec: 946_684_800, nsec: 123 }; // 2000-01-01, as tar and cp -p set it
    const set = await v.vfs.setattr(ROOT, attr.ino, { mtime: old, atime: old, mode: 0o600 });
    assert.deepEqual(set.mtime, old);
    await v.vfs.release(ROOT, fh);
    await store.heldPuts(1);
    const before = await v.vfs.getattr(ROOT, attr.ino);
    assert.deepEqual(before.mtime, old, 'stat shows the explicit mtime while the data is buffered');
    store.release();
    await v.data.whenIdle();
    const after = await v.meta.getattr(attr.ino);
    assert.equal(after.size, CONTENT.length);
    assert.deepEqual(after.mtime, old, 'the commit kept the explicit mtime');
    assert.deepEqual(after.atime, old);
    assert.equal(after.mode & 0o7777, 0o600);
    assert.deepEqual(after.ctime, set.ctime, 'the commit left the ctime of the setattr');
    assert.ok(compareTime(after.ctime, old) > 0);
  });

  it('a write after an explicit mtime sets mtime to the write time again (as Linux)', async () => {
    store.holding = true;
    const { fh, attr } = await v.vfs.create(ROOT, ROOT_INO, 'e', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, CONTENT);
    const future: Timespec = { sec: now().sec + 86_400 * 365, nsec: 0 };
    await v.vfs.setattr(ROOT, attr.ino, { mtime: future });
    const beforeWrite = now();
    await v.vfs.write(ROOT, fh, CONTENT.length, CONTENT);
    await v.vfs.release(ROOT, fh);
    const seen = await v.vfs.getattr(ROOT, attr.ino);
    assert.ok(compareTime(seen.mtime, future) < 0 && compareTime(seen.mtime, beforeWrite) >= 0, 'stat: mtime is the write time');
    store.release();
    await v.data.whenIdle();
    const after = await v.meta.getattr(attr.ino);
    assert.equal(after.size, 2 * CONTENT.length);
    assert.deepEqual(after.mtime, seen.mtime, 'committed mtime is the write time');
  });

  it('unlink of a closed file whose upload is in flight waits for it; GC then leaves no block behind', async () => {
    store.holding = true;
    await writeAndClose('f');
    await store.heldPuts(1);
    const unlink = v.vfs.unlink(ROOT, ROOT_INO, 'f');
    assert.equal(await stateOf(unlink), 'pending', 'the purge waits for the upload under way');
    store.release();
    await unlink;
    await v.data.whenIdle();
    await v.data.collectGarbage({ graceMs: 0 });
    assert.deepEqual(await storedAndRecordedBlocks(v), { stored: [], recorded: [] });
    assert.deepEqual(await v.meta.check(), []);
  });

  it('unlink of a closed file whose upload has not started cancels it: nothing is stored', async () => {
    const w = await makeVolume({
      chunkSize: 64 * 1024,
      closeWaitsForUpload: false,
      uploadConcurrency: 1,
      wrapBlocks: (inner) => (store = new HeldPutStore(inner)),
    });
    try {
      store.holding = true;
      const vol = w;
      const create = async (name: string) => {
        const { fh } = await vol.vfs.create(ROOT, ROOT_INO, name, 0o644, O_CREAT | O_WRONLY);
        await vol.vfs.write(ROOT, fh, 0, Buffer.from(name.repeat(100)));
        await vol.vfs.release(ROOT, fh);
      };
      await create('first'); // takes the only upload slot, held
      await store.heldPuts(1);
      await create('second'); // waits for the slot
      await vol.vfs.unlink(ROOT, ROOT_INO, 'second');
      store.release();
      await vol.data.whenIdle();
      assert.equal(store.puts, 1, 'the second file was never uploaded');
      await vol.vfs.unlink(ROOT, ROOT_INO, 'first');
      await vol.data.whenIdle();
      await vol.data.collectGarbage({ graceMs: 0 });
      assert.deepEqual(await storedAndRecordedBlocks(vol), { stored: [], recorded: [] });
    } finally {
      store.release();
      await w.dispose();
    }
  });

  it('O_TRUNC of a file whose upload is in flight leaves no unrecorded block', async () => {
    store.holding = true;
    const ino = await writeAndClose('g');
    await store.heldPuts(1);
    const t = await v.vfs.open(ROOT, ino, O_WRONLY | O_TRUNC);
    assert.equal(t.attr.size, 0);
    store.release();
    await v.vfs.release(ROOT, t.fh);
    await v.data.whenIdle();
    assert.equal((await v.meta.getattr(ino)).size, 0);
    await v.data.collectGarbage({ graceMs: 0 });
    assert.deepEqual(await storedAndRecordedBlocks(v), { stored: [], recorded: [] });
  });

  it('rename and hard links of a file being uploaded keep its data; unmount waits for it', async () => {
    store.holding = true;
    const ino = await writeAndClose('h');
    await store.heldPuts(1);
    await v.vfs.rename(ROOT, ROOT_INO, 'h', ROOT_INO, 'h2', 0);
    await v.vfs.link(ROOT, ino, ROOT_INO, 'h3');
    await v.vfs.unlink(ROOT, ROOT_INO, 'h2');
    const shutdown = v.vfs.shutdown();
    assert.equal(await stateOf(shutdown), 'pending', 'unmount flushes: waits for the held upload');
    store.release();
    await shutdown;
    const attr = await v.meta.lookup(ROOT_INO, 'h3');
    assert.equal(attr?.size, CONTENT.length);
    const r = await v.vfs.open(ROOT, ino, O_RDONLY);
    assert.deepEqual(await v.vfs.read(ROOT, r.fh, 0, 10_000), CONTENT);
    await v.vfs.release(ROOT, r.fh);
  });
});
