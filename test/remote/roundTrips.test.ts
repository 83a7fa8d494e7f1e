/**
 * How many HTTP requests small-file operations cost through a remote session, and that the ones
 * saved keep the two-writers rule: a created file's write lease comes with the create (no separate
 * acquire), the last close gives the server back both the lease and the open, a lease granted for
 * a file nobody opens (mknod) is returned by itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_INO, S_IFREG } from '../../src/meta/MetaStore.js';
import type { HttpRequest } from '../../src/remote/HttpClient.js';
import { CREATE_GRANT_TTL_MS } from '../../src/remote/RemoteOpenLeases.js';
import type { RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as root } from '../../src/vfs/types.js';
import { startRemoteFixture, type RemoteFixture } from './remoteFixture.js';

function label(r: HttpRequest): string {
  const op = (r.json as { op?: string } | undefined)?.op;
  return `${r.method} ${r.path.split('?')[0]!.replace(/[0-9a-f]{64}$/, ':id')}${op ? ` ${op}` : ''}`;
}

describe('remote round trips per small-file operation', () => {
  let fx: RemoteFixture;
  let a: RemoteSession;
  let b: RemoteSession;
  let sent: string[] = [];
  let userId = '';
  const openOn = async (ino: number, client: string) =>
    (await fx.server.server.backend.coordinator.openElsewhere(userId, [ino], client)).has(ino);

  before(async () => {
    fx = await startRemoteFixture();
    a = await fx.open({ onRequest: (r) => sent.push(label(r)) });
    b = await fx.open();
    userId = (await fx.server.server.backend.accounts.getUserByName(fx.user))!.id;
  });
  after(async () => {
    await fx?.stop();
  });

  it('create + write 4 KiB + close: no lease acquire', async () => {
    const warm = await a.vfs.create(root, ROOT_INO, 'warm-up', 0o644, fsc.O_WRONLY | fsc.O_CREAT); // root attrs cached
    await a.vfs.release(root, warm.fh);
    sent = [];
    const data = randomBytes(4096);
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, 'small', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.write(root, fh, 0, data);
    await a.vfs.flush(root, fh);
    await a.vfs.release(root, fh);
    // Metadata reads around it (parent and file attributes) belong to the VFS and its cache; what
    // this layer decides: no lease acquire, one create, one commit, one release.
    const count = (what: string) => sent.filter((x) => x === what).length;
    assert.equal(count('POST /v1/leases/acquire'), 0, sent.join(', '));
    assert.equal(count('POST /v1/meta create'), 1, sent.join(', '));
    assert.equal(count('POST /v1/meta commitSlicesWithBlocks'), 1, `the commit carries the small block: ${sent.join(', ')}`);
    assert.equal(count('PUT /v1/blocks/:id'), 0, sent.join(', '));
    assert.equal(count('POST /v1/meta getxattr'), 0, sent.join(', '));
    assert.equal(count('POST /v1/leases/release'), 1, sent.join(', '));
    assert.ok(sent.length <= 7, `create+write+close: ${sent.join(', ')}`);
    // The server no longer counts it as open by `a`: another client may write it now.
    assert.equal(await openOn(attr.ino, b.clientId), false);
    const hb = await b.vfs.open(root, attr.ino, fsc.O_WRONLY);
    await b.vfs.release(root, hb.fh);

    sent = [];
    assert.equal((await a.vfs.lookup(root, ROOT_INO, 'small')).size, 4096);
    assert.ok(sent.length <= 2, `stat: ${sent.join(', ')}`);
    sent = [];
    const o = await a.vfs.open(root, attr.ino, fsc.O_RDONLY);
    assert.deepEqual(await a.vfs.read(root, o.fh, 0, 8192), data);
    await a.vfs.release(root, o.fh);
    assert.ok(sent.length <= 7, `read: ${sent.join(', ')}`);
  });

  it('open for reading: one request revalidates and opens; delete: unlink + purge, no getattr', async () => {
    const data = randomBytes(3000);
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, 'counted', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.write(root, fh, 0, data);
    await a.vfs.release(root, fh);
    // Another client changes it: a's open must see the new size (close-to-open) in its one request.
    const w = await b.vfs.open(root, attr.ino, fsc.O_WRONLY);
    await b.vfs.write(root, w.fh, 3000, Buffer.from('tail'));
    await b.vfs.release(root, w.fh);
    sent = [];
    const o = await a.vfs.open(root, attr.ino, fsc.O_RDONLY);
    assert.equal(o.attr.size, 3004);
    assert.deepEqual(sent, ['POST /v1/open'], 'no separate getattr and lease acquire');
    assert.equal(await openOn(attr.ino, b.clientId), true, 'the server counts the open');
    assert.deepEqual(await a.vfs.read(root, o.fh, 0, 8192), Buffer.concat([data, Buffer.from('tail')]));
    await a.vfs.release(root, o.fh);
    await sleep(100); // a reader's release is not waited for
    assert.equal(await openOn(attr.ino, b.clientId), false, 'released by the last close');

    // A second open while one is held: the server already counts it, the extra open is idempotent.
    const o1 = await a.vfs.open(root, attr.ino, fsc.O_RDONLY);
    const o2 = await a.vfs.open(root, attr.ino, fsc.O_RDWR);
    await a.vfs.release(root, o1.fh);
    await assert.rejects(b.vfs.open(root, attr.ino, fsc.O_WRONLY), { code: 'EBUSY' }, 'o2 holds the write lease');
    await a.vfs.release(root, o2.fh);
    await sleep(100);
    assert.equal(await openOn(attr.ino, b.clientId), false);

    sent = [];
    await a.vfs.unlink(root, ROOT_INO, 'counted');
    const count = (what: string) => sent.filter((x) => x === what).length;
    assert.equal(count('POST /v1/meta unlink'), 1, sent.join(', '));
    // b's refused open above is still recorded on the server until b gives it back (CREATE_GRANT_TTL_MS),
    // so the unlink cannot purge the inode itself (test/remote/purgeWithUnlink.test.ts): the purge follows.
    assert.equal(count('POST /v1/meta purgeInode'), 1, sent.join(', '));
    assert.equal(count('POST /v1/meta getattr'), 0, `parent and victim attributes come with the unlink: ${sent.join(', ')}`);
    await assert.rejects(b.vfs.lookup(root, ROOT_INO, 'counted'), { code: 'ENOENT' });
  });

  it('an open refused after revalidation gives its server open back', async () => {
    const user = { uid: 1000, gid: 1000, groups: [] as number[], pid: 0 };
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, 'private', 0o600, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.release(root, fh);
    await sleep(100);
    await assert.rejects(a.vfs.open(user, attr.ino, fsc.O_RDONLY), { code: 'EACCES' });
    assert.equal(await openOn(attr.ino, b.clientId), true, 'recorded by the open request');
    await sleep(CREATE_GRANT_TTL_MS + 500);
    assert.equal(await openOn(attr.ino, b.clientId), false, 'given back when no acquire claimed it');
  });

  it('the write lease granted with a create holds off other writers until the creator closes', async () => {
    const { fh, attr } = await a.vfs.create(root, ROOT_INO, 'held', 0o644, fsc.O_RDWR | fsc.O_CREAT);
    await a.vfs.write(root, fh, 0, Buffer.from('first'));
    await assert.rejects(b.vfs.open(root, attr.ino, fsc.O_WRONLY), { code: 'EBUSY' });
    // Readers are never blocked.
    const r = await b.vfs.open(root, attr.ino, fsc.O_RDONLY);
    await b.vfs.release(root, r.fh);
    await sleep(CREATE_GRANT_TTL_MS + 300); // the grant was claimed by the open: it is not given back
    await assert.rejects(b.vfs.open(root, attr.ino, fsc.O_WRONLY), { code: 'EBUSY' });
    await a.vfs.release(root, fh);
    const w = await b.vfs.open(root, attr.ino, fsc.O_WRONLY);
    await assert.rejects(a.vfs.open(root, attr.ino, fsc.O_WRONLY), { code: 'EBUSY' });
    await b.vfs.release(root, w.fh);
    const again = await a.vfs.open(root, attr.ino, fsc.O_RDWR);
    assert.deepEqual(await a.vfs.read(root, again.fh, 0, 100), Buffer.from('first'));
    await a.vfs.release(root, again.fh);
  });

  it('a lease granted for a file nobody opens (mknod) is given back', async () => {
    const attr = await a.vfs.mknod(root, ROOT_INO, 'node', S_IFREG | 0o644, 0);
    await assert.rejects(b.vfs.open(root, attr.ino, fsc.O_WRONLY), { code: 'EBUSY' });
    await sleep(CREATE_GRANT_TTL_MS + 500);
    assert.equal(await openOn(attr.ino, b.clientId), false);
    const w = await b.vfs.open(root, attr.ino, fsc.O_WRONLY);
    await b.vfs.release(root, w.fh);
  });
});
