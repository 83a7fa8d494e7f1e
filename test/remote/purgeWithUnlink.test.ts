/**
 * An unlink from a client that holds nothing open asks the server to purge the inode in the same
 * request (PURGE_UNLINKED_HEADER). The server does so only when no client at all has it open; in
 * every other case the inode stays and the client's own purgeInode (or the deferred purge of the
 * last close elsewhere) decides, exactly as before.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import type { HttpRequest } from '../../src/remote/HttpClient.js';
import type { RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as root } from '../../src/vfs/types.js';
import { startRemoteFixture, type RemoteFixture } from './remoteFixture.js';

const opOf = (r: HttpRequest) => (r.json as { op?: string } | undefined)?.op ?? '';

describe('purge with the unlink', () => {
  let fx: RemoteFixture;
  let a: RemoteSession;
  let b: RemoteSession;
  let ops: string[] = [];
  let onServer: (ino: number) => Promise<boolean>;

  before(async () => {
    fx = await startRemoteFixture();
    a = await fx.open({ onRequest: (r) => ops.push(opOf(r)) });
    b = await fx.open();
    const user = (await fx.server.server.backend.accounts.getUserByName(fx.user))!;
    onServer = (ino) => fx.server.server.spaces.use(user.id, user.blockSize, (s) => s.meta.getattr(ino)).then(() => true, (err: { code?: string }) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    });
  });
  after(async () => {
    await fx?.stop();
  });

  async function file(name: string, data: Buffer): Promise<number> {
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, name, 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.write(root, fh, 0, data);
    await a.vfs.release(root, fh);
    return attr.ino;
  }

  it('nothing open anywhere: one request unlinks and purges', async () => {
    const ino = await file('gone', randomBytes(1000));
    ops = [];
    await a.vfs.unlink(root, ROOT_INO, 'gone');
    assert.deepEqual(ops.filter((o) => o === 'unlink' || o === 'purgeInode'), ['unlink']);
    assert.equal(await onServer(ino), false);
  });

  it('open on another client: the unlink does not purge, the other client keeps reading until it closes', async () => {
    const data = randomBytes(5000);
    const ino = await file('held-elsewhere', data);
    const o = await b.vfs.open(root, ino, fsc.O_RDONLY);
    ops = [];
    await a.vfs.unlink(root, ROOT_INO, 'held-elsewhere');
    assert.ok(ops.includes('purgeInode'), `the client's own purge follows (deferred by the server): ${ops.join(', ')}`);
    assert.equal(await onServer(ino), true, 'still there while b has it open');
    assert.deepEqual(await b.vfs.read(root, o.fh, 0, 8192), data);
    await b.vfs.release(root, o.fh); // a reader's release is not waited for: its purge follows it
    for (let i = 0; i < 100 && (await onServer(ino)); i++) await sleep(50);
    assert.equal(await onServer(ino), false, 'purged once the last open elsewhere closed');
  });

  it('a file open on this client: no purge request with the unlink; the last close purges', async () => {
    const data = randomBytes(3000);
    const other = await file('other', randomBytes(10));
    const ino = await file('held-here', data);
    const keep = await a.vfs.open(root, other, fsc.O_RDONLY); // the client is not idle
    const o = await a.vfs.open(root, ino, fsc.O_RDONLY);
    await a.vfs.unlink(root, ROOT_INO, 'held-here');
    assert.equal(await onServer(ino), true, 'open here: not purged');
    assert.deepEqual(await a.vfs.read(root, o.fh, 0, 8192), data);
    await a.vfs.release(root, o.fh);
    assert.equal(await onServer(ino), false, 'purged by the last close');
    await a.vfs.release(root, keep.fh);
  });

  it('a hard link left: the unlink purges nothing', async () => {
    const ino = await file('linked', randomBytes(100));
    await a.vfs.link(root, ino, ROOT_INO, 'linked-2');
    await a.vfs.unlink(root, ROOT_INO, 'linked');
    assert.equal(await onServer(ino), true);
    assert.equal((await b.vfs.lookup(root, ROOT_INO, 'linked-2')).ino, ino);
    await a.vfs.unlink(root, ROOT_INO, 'linked-2');
    assert.equal(await onServer(ino), false);
  });
});
