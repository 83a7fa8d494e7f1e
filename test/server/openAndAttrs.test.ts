/**
 * Round-trip savers of the protocol: POST /v1/open (an open recorded with the attributes read after
 * it) and `attrs: true` on namespace changes (the changed directories' and an unlinked inode's
 * attributes in the answer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTES } from '../../src/remote/protocol.js';
import { decodeWire, encodeWire } from '../../src/remote/wireCodec.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { Session } from './apiClient.js';

const T = { sec: 1_700_000_000, nsec: 0 };
const T2 = { sec: 1_700_000_100, nsec: 5 };
const FILE = { mode: 0o100644, uid: 0, gid: 0, now: T };
const DIR = { mode: 0o040755, uid: 0, gid: 0, now: T };

describe('server: open with attributes, namespace changes with attributes', () => {
  let srv: TestServer;
  let a1: Session;
  let a2: Session;
  let b: Session;
  let aliceId = '';
  /** Whether any client of alice has `ino` open. */
  const openByAnyone = async (ino: number) => (await srv.server.backend.coordinator.openElsewhere(aliceId, [ino], 'nobody')).has(ino);
  const changeWithAttrs = async (s: Session, op: string, args: unknown[]) => {
    const r = await s.req('POST', ROUTES.meta, { json: { op, args: encodeWire(args), attrs: true } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { result: decodeWire(r.body.result) as any, attrs: decodeWire(r.body.attrs) as any[] };
  };

  before(async () => {
    srv = await startTestServer({ leaseTtlMs: 60_000 });
    await srv.addUser('alice', 'pw');
    await srv.addUser('bob', 'pw');
    a1 = await Session.open(srv.url, 'alice', 'pw');
    a2 = await Session.open(srv.url, 'alice', 'pw');
    b = await Session.open(srv.url, 'bob', 'pw');
    aliceId = (await srv.server.backend.accounts.getUserByName('alice'))!.id;
  });
  after(() => srv.stop());

  it('open records the open and answers the attributes as getattr does', async () => {
    const f = await a1.meta('create', 1, 'opened', FILE);
    await a1.meta('setattr', f.ino, { mode: 0o100600, ctime: T2 });
    const r = await a2.req('POST', ROUTES.open, { json: { ino: f.ino } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(decodeWire(r.body.attr), await a1.meta('getattr', f.ino));
    assert.equal(await openByAnyone(f.ino), true, 'the server counts it open (by a2, the only one that opened it)');
    // An open protects the inode from a purge by another client, as a lease acquire does.
    await a1.meta('unlink', 1, 'opened', T);
    await a1.meta('purgeInode', f.ino);
    assert.equal((await a2.meta('getattr', f.ino)).nlink, 0, 'still there while a2 has it open');
    assert.equal((await a2.req('POST', ROUTES.leaseRelease, { json: { ino: f.ino, write: false } })).status, 204);
    assert.equal((await a2.metaRaw('getattr', [f.ino])).status, 404, 'purged once a2 closed it');
    assert.equal(await openByAnyone(f.ino), false);
  });

  it('open of a missing inode is 404 ENOENT and leaves no open behind; bad bodies are 400; users are isolated', async () => {
    const missing = await a1.req('POST', ROUTES.open, { json: { ino: 987654 } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ENOENT');
    assert.equal(await openByAnyone(987654), false);
    for (const body of [{}, { ino: 0 }, { ino: 'x' }, { ino: 1, write: true }, [1]]) {
      assert.equal((await a1.req('POST', ROUTES.open, { json: body })).status, 400, JSON.stringify(body));
    }
    const f = await a1.meta('create', 1, 'alice-only', FILE);
    const other = await b.req('POST', ROUTES.open, { json: { ino: f.ino } });
    // bob's namespace has no inode of that number (or a different one): never alice's attributes
    if (other.status === 200) assert.notDeepEqual(decodeWire(other.body.attr), await a1.meta('getattr', f.ino));
    else assert.equal(other.status, 404);
    const noAuth = await fetch(srv.url + ROUTES.open, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ino: f.ino }) });
    assert.equal(noAuth.status, 401);
  });

  it('create, unlink, rmdir, rename and link answer the attributes they changed when asked', async () => {
    const d = await a1.meta('create', 1, 'attrs-dir', DIR);
    const created = await changeWithAttrs(a1, 'create', [d.ino, 'f', FILE]);
    assert.deepEqual(created.attrs, [await a1.meta('getattr', d.ino)], 'the parent after the create');
    assert.equal(created.result.ino, (await a1.meta('lookup', d.ino, 'f')).ino);

    const linked = await changeWithAttrs(a1, 'link', [created.result.ino, 1, 'f-link', T2]);
    assert.deepEqual(linked.attrs, [await a1.meta('getattr', 1)]);

    const renamed = await changeWithAttrs(a1, 'rename', [1, 'f-link', d.ino, 'g', 0, T2]);
    assert.deepEqual(renamed.attrs, [await a1.meta('getattr', 1), await a1.meta('getattr', d.ino)]);

    const unlinked = await changeWithAttrs(a1, 'unlink', [d.ino, 'g', T2]);
    assert.deepEqual(unlinked.result, { ino: created.result.ino, nlink: 1 });
    assert.deepEqual(unlinked.attrs, [await a1.meta('getattr', d.ino), await a1.meta('getattr', created.result.ino)]);
    const last = await changeWithAttrs(a1, 'unlink', [d.ino, 'f', T2]);
    assert.equal(last.attrs.length, 2);
    assert.equal(last.attrs[1].ino, created.result.ino);
    assert.equal(last.attrs[1].nlink, 0, 'the victim as it is now: unlinked, not yet purged');
    await a1.meta('purgeInode', created.result.ino);

    const removed = await changeWithAttrs(a1, 'rmdir', [1, 'attrs-dir', T2]);
    assert.deepEqual(removed.attrs, [await a1.meta('getattr', 1)]);

    // Without the flag the answer is as before; a read-only op ignores it.
    const plain = await a1.metaRaw('create', [1, 'plain', FILE]);
    assert.equal(plain.body.attrs, undefined);
    const read = await a1.req('POST', ROUTES.meta, { json: { op: 'getattr', args: [1], attrs: true } });
    assert.equal(read.status, 200);
    assert.equal(read.body.attrs, undefined);
    // A failed change answers its error, not attributes.
    const dup = await a1.req('POST', ROUTES.meta, { json: { op: 'create', args: encodeWire([1, 'plain', FILE]), attrs: true } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'EEXIST');
  });
});
