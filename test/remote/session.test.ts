import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { ROOT_CTX, type Ctx } from '../../src/vfs/types.js';
import { startRemoteFixture, type RemoteFixture } from './remoteFixture.js';

const root: Ctx = ROOT_CTX;

describe('remote session: VFS over a real server', () => {
  let fx: RemoteFixture;
  before(async () => {
    fx = await startRemoteFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  it('writes, fsyncs and reads back a file; a second session sees it', async () => {
    const a = await fx.open();
    const data = randomBytes(300_000);
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, 'hello.bin', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.write(root, fh, 0, data);
    await a.vfs.fsync(root, fh, false);
    await a.vfs.release(root, fh);
    const back = await a.vfs.open(root, attr.ino, fsc.O_RDONLY);
    assert.deepEqual(await a.vfs.read(root, back.fh, 0, data.length + 10), data);
    await a.vfs.release(root, back.fh);

    const b = await fx.open();
    const found = await b.vfs.lookup(root, ROOT_INO, 'hello.bin');
    assert.equal(found.size, data.length);
    const hb = await b.vfs.open(root, found.ino, fsc.O_RDONLY);
    assert.deepEqual(await b.vfs.read(root, hb.fh, 0, data.length), data);
    await b.vfs.release(root, hb.fh);
    const who = await b.whoami();
    assert.equal(who.user, fx.user);
    const st = b.stats();
    assert.ok(st.bytesDown > data.length, `bytesDown ${st.bytesDown}`);
    assert.ok(st.requests > 0 && st.latencyP50Ms > 0);
  });
});
