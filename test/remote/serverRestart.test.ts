import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import { login } from '../../src/remote/loginFlow.js';
import { openRemoteSession, type RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as ctx } from '../../src/vfs/types.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

describe('server restarted under a session', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('idle and while uploading: operations resume and fsync\'d data is there', async () => {
    const dataDir = await createTempDir('mosaicfs-server-');
    cleanups.push(() => removeTempDir(dataDir));
    const configDir = await createTempDir('mosaicfs-config-');
    cleanups.push(() => removeTempDir(configDir));
    let server: TestServer = await startTestServer({ dataDir });
    cleanups.push(() => server.stop());
    const port = Number(new URL(server.url).port);
    await server.addUser('carol', 'pw');
    await login({ url: server.url, user: 'carol', password: 'pw', configDir });
    const s: RemoteSession = await openRemoteSession({ url: server.url, configDir });
    cleanups.push(() => s.close());
    const restart = async (downMs: number) => {
      await server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      server = await startTestServer({ dataDir, port });
    };

    // Idle: the server goes away and comes back; the next operations just work.
    const before = randomBytes(100_000);
    const f1 = await s.vfs.create(ctx, ROOT_INO, 'before', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await s.vfs.write(ctx, f1.fh, 0, before);
    await s.vfs.fsync(ctx, f1.fh, false);
    await s.vfs.release(ctx, f1.fh);
    await restart(300);
    assert.equal((await s.vfs.lookup(ctx, ROOT_INO, 'before')).size, before.length);

    // Uploading: the server restarts in the middle of a stream of writes; fsync succeeds afterwards.
    const big = randomBytes(24 * 1024 * 1024);
    const f2 = await s.vfs.create(ctx, ROOT_INO, 'during', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    const writing = (async () => {
      for (let off = 0; off < big.length; off += 1024 * 1024) await s.vfs.write(ctx, f2.fh, off, big.subarray(off, off + 1024 * 1024));
      await s.vfs.fsync(ctx, f2.fh, false);
      await s.vfs.release(ctx, f2.fh);
    })();
    await new Promise((r) => setTimeout(r, 150));
    await restart(700);
    await writing;
    assert.ok(s.stats().retries > 0 || s.events.reconnects > 0, 'the session noticed the restart');

    // A fresh session after one more restart reads everything back.
    await restart(100);
    const fresh = await openRemoteSession({ url: server.url, configDir });
    cleanups.push(() => fresh.close());
    for (const [name, want] of [['before', before], ['during', big]] as const) {
      const attr = await fresh.vfs.lookup(ctx, ROOT_INO, name);
      const h = await fresh.vfs.open(ctx, attr.ino, fsc.O_RDONLY);
      const got = await fresh.vfs.read(ctx, h.fh, 0, want.length + 1);
      await fresh.vfs.release(ctx, h.fh);
      assert.ok(got.equals(want), `${name}: ${got.length} bytes read back, ${want.length} written`);
    }
    await assert.doesNotReject(s.vfs.lookup(ctx, ROOT_INO, 'during'));
  });
});
