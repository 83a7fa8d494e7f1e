import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROUTES } from '../../src/remote/protocol.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { Session } from './apiClient.js';

const T = { sec: 1_700_000_000, nsec: 5 };
const FILE = 0o100644;
const DIR = 0o040755;

/** What bob has, read back through his own session: compared before and after alice's attempts. */
async function snapshot(bob: Session, inos: number[], blockId: string): Promise<unknown> {
  return {
    attrs: await Promise.all(inos.map((i) => bob.meta('getattr', i))),
    root: await bob.meta('readdir', 1, null, 100),
    sub: await bob.meta('readdir', inos[0], null, 100),
    chunks: [...(await bob.meta<Map<number, unknown>>('readChunks', inos[1], 0, 0))],
    xattr: (await bob.meta<Buffer>('getxattr', inos[1], 'user.note')).toString('hex'),
    block: (await bob.req('GET', ROUTES.block + blockId)).body.toString('hex'),
    stats: await bob.meta('stats'),
  };
}

describe('server: one user can never reach another user\'s namespace', () => {
  let srv: TestServer;
  let alice: Session;
  let bob: Session;
  let bobInos: number[];
  let bobBlock: string;
  let before_: unknown;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice pw');
    await srv.addUser('bob', 'bob pw');
    alice = await Session.open(srv.url, 'alice', 'alice pw');
    bob = await Session.open(srv.url, 'bob', 'bob pw');
    const dir = await bob.meta('create', 1, 'private', { mode: DIR, uid: 0, gid: 0, now: T });
    const file = await bob.meta('create', dir.ino, 'secret.txt', { mode: FILE, uid: 0, gid: 0, now: T });
    const data = randomBytes(1000);
    bobBlock = createHash('sha256').update(data).digest('hex');
    assert.equal((await bob.req('PUT', ROUTES.block + bobBlock, { raw: data })).status, 204);
    await bob.meta('commitSlices', file.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 1000, blockId: bobBlock, blockOff: 0 }] }],
      [{ id: bobBlock, size: 1000, storedSize: 1000 }], 1000, T);
    await bob.meta('setxattr', file.ino, 'user.note', Buffer.from('bob only'), 0, T);
    bobInos = [dir.ino, file.ino];
    before_ = await snapshot(bob, bobInos, bobBlock);
  });
  after(() => srv.stop());

  it("bob's inode ids are unknown in alice's namespace (404 ENOENT)", async () => {
    for (const ino of bobInos) {
      for (const [op, args] of [
        ['getattr', [ino]], ['readlink', [ino]], ['listxattr', [ino]], ['getxattr', [ino, 'user.note']], ['pathOf', [ino]],
        ['setattr', [ino, { mode: 0o777, ctime: T }]], ['truncate', [ino, 0, T]],
        ['setxattr', [ino, 'user.x', Buffer.from('x'), 0, T]], ['readdir', [ino, null, 10]],
        ['create', [ino, 'planted', { mode: FILE, uid: 0, gid: 0, now: T }]], ['link', [ino, 1, 'hardlink', T]],
        ['unlink', [ino, 'secret.txt', T]], ['rename', [ino, 'secret.txt', 1, 'stolen', 0, T]],
      ] as const) {
        const r = await alice.metaRaw(op, [...args]);
        assert.equal(r.status, 404, `${op}(${ino}) -> ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'ENOENT');
      }
      // purging an inode that does not exist is a no-op in the engine: fine, as long as bob's stays (checked below)
      assert.ok([200, 404].includes((await alice.metaRaw('purgeInode', [ino])).status));
      const chunks = await alice.meta<Map<number, unknown>>('readChunks', ino, 0, 10).catch((e) => e.status);
      assert.ok(chunks === 404 || (chunks instanceof Map && chunks.size === 0), `readChunks leaked ${String(chunks)}`);
    }
  });

  it("bob's block ids are unknown to alice", async () => {
    assert.equal((await alice.req('GET', ROUTES.block + bobBlock)).status, 404);
    assert.equal((await alice.req('GET', ROUTES.block + bobBlock, { headers: { range: 'bytes=0-9' } })).status, 404);
    assert.equal((await alice.req('HEAD', ROUTES.block + bobBlock)).status, 404);
    assert.equal(await alice.meta('getBlock', bobBlock), null);
    assert.deepEqual(await alice.meta('inodesUsingBlock', bobBlock), []);
    assert.deepEqual((await alice.req('GET', ROUTES.blockList)).body.blocks, []);
    // deleting it only deletes in alice's namespace (where it does not exist): bob keeps it
    assert.equal((await alice.req('DELETE', ROUTES.block + bobBlock)).status, 204);
    // alice referencing bob's block in her own file fails: her metadata does not know it
    const f = await alice.meta('create', 1, 'mine', { mode: FILE, uid: 0, gid: 0, now: T });
    const r = await alice.metaRaw('commitSlices', [f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 10, blockId: bobBlock, blockOff: 0 }] }], [], 10, T]);
    assert.ok(r.status >= 400 && r.status < 500, `commitSlices -> ${r.status}`);
  });

  it('traversal names, NUL bytes, absolute paths and over-long names get a clear 4xx', async () => {
    const cases: Array<[string, number, string]> = [
      ['..', 400, 'EINVAL'], ['.', 400, 'EINVAL'], ['../bob', 400, 'EINVAL'], ['/etc/passwd', 400, 'EINVAL'],
      ['a/b', 400, 'EINVAL'], ['', 400, 'EINVAL'], ['nul\0byte', 400, 'EBADREQ'], ['x'.repeat(256), 400, 'ENAMETOOLONG'],
      ['é'.repeat(128), 400, 'ENAMETOOLONG'],
    ];
    for (const [name, status, code] of cases) {
      for (const [op, args] of [
        ['lookup', [1, name]], ['create', [1, name, { mode: FILE, uid: 0, gid: 0, now: T }]], ['unlink', [1, name, T]],
        ['rename', [1, 'mine', 1, name, 0, T]],
      ] as const) {
        const r = await alice.metaRaw(op, [...args]);
        assert.equal(r.status, status, `${op}(${JSON.stringify(name).slice(0, 20)}) -> ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, `${op} ${JSON.stringify(name).slice(0, 20)}`);
        assert.ok(r.body.error.message.length > 0);
      }
    }
    for (const id of ['..%2F..%2Fserver.db', '..', 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}%00`]) {
      const r = await alice.req('GET', ROUTES.block + id);
      assert.ok(r.status === 400 || r.status === 404, `GET block ${id} -> ${r.status}`);
      const p = await alice.req('PUT', ROUTES.block + id, { raw: Buffer.from('x') });
      assert.ok(p.status === 400 || p.status === 404, `PUT block ${id} -> ${p.status}`);
    }
    assert.equal((await alice.metaRaw('getBlock', ['../../x'])).status, 400);
  });

  it("nothing of bob's changed, and alice's own writes went to her namespace", async () => {
    assert.deepEqual(await snapshot(bob, bobInos, bobBlock), before_);
    const aliceRoot = await alice.meta('readdir', 1, null, 100);
    assert.deepEqual(aliceRoot.entries.map((e: { name: string }) => e.name), ['mine']);
  });
});
