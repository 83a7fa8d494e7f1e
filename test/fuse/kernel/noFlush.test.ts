/**
 * FOPEN_NOFLUSH on writable handles in write-back mode (the embedded volume): close(2) sends no
 * FLUSH, RELEASE starts the upload, and an upload that fails after close is reported by the next
 * fsync (as on ext4), never swallowed by a RELEASE nobody hears. Close-waits mode (remote mounts)
 * keeps FLUSH for close-to-open consistency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../../../src/errors.js';
import type { VfsApi } from '../../../src/vfs/types.js';
import { HeldPutStore } from '../../vfs/HeldPutStore.js';
import { mountKernel, overrideVfs, type KernelMount } from './harness.js';

/** The VFS with its flush calls counted. */
function countFlushes(vfs: VfsApi, counter: { flushes: number }): VfsApi {
  return overrideVfs(vfs, { flush: (...args) => { counter.flushes++; return vfs.flush(...args); } });
}

const PY_FSYNC = `python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY); os.fsync(fd); os.close(fd)"`;

describe('kernel binding, write-back close: no FLUSH for writable handles', () => {
  const counter = { flushes: 0 };
  let m: KernelMount;
  let store: HeldPutStore;
  before(async () => {
    m = await mountKernel({
      volume: { closeWaitsForUpload: false, wrapBlocks: (inner) => (store = new HeldPutStore(inner)) },
      wrap: (vfs) => countFlushes(vfs, counter),
    });
  });
  after(async () => {
    store?.release();
    await m?.dispose();
  });

  it('creating, writing and closing files sends no FLUSH; the data is there', async () => {
    const before = counter.flushes;
    await m.sh('for i in 1 2 3 4 5; do echo "file $i" > f$i; done; echo again >> f1; cp f2 g');
    assert.equal(counter.flushes - before, 0, 'no FLUSH reached the file system');
    assert.equal(await m.sh('cat f1 f5 g'), 'file 1\nagain\nfile 5\nfile 2\n');
    await m.volume.data.whenIdle();
    assert.equal((await m.volume.meta.lookup(1, 'f1'))?.size, 'file 1\nagain\n'.length, 'committed after RELEASE');
  });

  it('an upload failing after close is reported by the next fsync, also after a reader opened and closed the file', async () => {
    store.holding = true;
    await m.sh('echo precious > p');
    await store.heldPuts(1);
    store.fail(new FsError('EIO', 'injected: store down'));
    await m.volume.data.whenIdle();
    assert.equal(await m.sh('cat p'), 'precious\n', 'readable from the buffer');
    await assert.rejects(m.sh(`${PY_FSYNC} p`), /Errno 5/);
    await m.sh(`${PY_FSYNC} p`); // reported once; the fsync retried the upload, which now works
    assert.equal((await m.volume.meta.lookup(1, 'p'))?.size, 'precious\n'.length);
  });
});

describe('kernel binding, close waits for the upload: FLUSH stays', () => {
  const counter = { flushes: 0 };
  let m: KernelMount;
  before(async () => { m = await mountKernel({ volume: { closeWaitsForUpload: true }, wrap: (vfs) => countFlushes(vfs, counter) }); });
  after(async () => { await m?.dispose(); });

  it('each close(2) of a writable handle sends FLUSH and finds the data committed', async () => {
    await m.sh('echo one > a; echo two > b');
    assert.ok(counter.flushes >= 2, `FLUSH per close: ${counter.flushes}`);
    assert.equal((await m.volume.meta.lookup(1, 'b'))?.size, 4, 'committed when close returned');
  });
});
