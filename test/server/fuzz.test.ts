import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CLIENT_HEADER, MAX_JSON_BODY, REMOTE_META_OPS, ROUTES } from '../../src/remote/protocol.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { call, Session } from './apiClient.js';

const T = { sec: 1_700_000_000, nsec: 0 };
/** Ops whose first argument is an inode number. */
const INO_FIRST = ['getattr', 'lookup', 'pathOf', 'isAncestor', 'create', 'link', 'unlink', 'rmdir', 'rename', 'readlink', 'readdir',
  'setattr', 'truncate', 'purgeInode', 'getxattr', 'setxattr', 'listxattr', 'removexattr', 'readChunks', 'commitSlices', 'replaceChunk'];
const ARITY: Record<string, number> = {
  getattr: 1, lookup: 2, pathOf: 1, isAncestor: 2, create: 3, link: 4, unlink: 3, rmdir: 3, rename: 6, readlink: 1, readdir: 3,
  setattr: 2, truncate: 3, purgeInode: 1, getxattr: 2, setxattr: 5, listxattr: 1, removexattr: 3, readChunks: 3, commitSlices: 5, replaceChunk: 5,
};
const notAnIno = fc.oneof(fc.string(), fc.constant(-1), fc.constant(0), fc.double({ min: 0.1, max: 1e6, noInteger: true }), fc.constant(2 ** 60),
  fc.constant(null), fc.boolean(), fc.array(fc.nat()), fc.dictionary(fc.string(), fc.nat()));

describe('server: fuzzing the HTTP API', () => {
  let srv: TestServer;
  let s: Session;
  let known: () => Promise<unknown>;
  let expected: unknown;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'pw');
    s = await Session.open(srv.url, 'alice', 'pw');
    const f = await s.meta('create', 1, 'known.txt', { mode: 0o100644, uid: 0, gid: 0, now: T });
    const data = randomBytes(5000);
    const id = createHash('sha256').update(data).digest('hex');
    assert.equal((await s.req('PUT', ROUTES.block + id, { raw: data })).status, 204);
    await s.meta('commitSlices', f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 5000, blockId: id, blockOff: 0 }] }], [{ id, size: 5000, storedSize: 5000 }], 5000, T);
    await s.meta('setxattr', f.ino, 'user.k', Buffer.from('v'), 0, T);
    known = async () => ({
      attr: await s.meta('getattr', f.ino),
      dir: await s.meta('readdir', 1, null, 100),
      chunks: [...(await s.meta<Map<number, unknown>>('readChunks', f.ino, 0, 0))],
      xattr: (await s.meta<Buffer>('getxattr', f.ino, 'user.k')).toString(),
      block: (await s.req('GET', ROUTES.block + id)).body.toString('base64'),
    });
    expected = await known();
  });
  after(() => srv.stop());

  const is4xx = (status: number, what: string) => assert.ok(status >= 400 && status < 500, `${what} -> ${status}`);

  it('malformed JSON bodies -> 400', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 1 }).filter((t) => { try { JSON.parse(t); return false; } catch { return true; } }), async (text) => {
      const r = await fetch(srv.url + ROUTES.meta, { method: 'POST', headers: { authorization: `Bearer ${s.token}`, [CLIENT_HEADER]: s.client, 'content-type': 'application/json' }, body: text });
      await r.arrayBuffer();
      is4xx(r.status, `body ${JSON.stringify(text)}`);
    }), { numRuns: 100 });
  });

  it('unknown ops, wrong arity and wrong types -> 400 EBADREQ', async () => {
    const unknownOp = fc.record({ op: fc.string().filter((o) => !(REMOTE_META_OPS as readonly string[]).includes(o)), args: fc.array(fc.jsonValue()) });
    const wrongArity = fc.constantFrom(...INO_FIRST).chain((op) =>
      fc.record({ op: fc.constant(op), args: fc.array(fc.nat(), { maxLength: 8 }).filter((a) => a.length !== ARITY[op]) }));
    const wrongType = fc.constantFrom(...INO_FIRST).chain((op) =>
      fc.tuple(notAnIno, fc.array(fc.jsonValue(), { minLength: ARITY[op]! - 1, maxLength: ARITY[op]! - 1 })).map(([bad, rest]) => ({ op, args: [bad, ...rest] })));
    const notAnObject = fc.oneof(fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)), fc.record({ op: fc.jsonValue() }));
    const gen = fc.oneof(unknownOp, wrongArity, wrongType, notAnObject, fc.constantFrom('unreferencedBlocks', 'forgetBlocks', 'init', 'close', 'check', 'setSetting', '__proto__', 'constructor').map((op) => ({ op, args: [] })));
    await fc.assert(fc.asyncProperty(gen, async (body) => {
      const r = await s.req('POST', ROUTES.meta, { json: body });
      is4xx(r.status, JSON.stringify(body).slice(0, 200));
      assert.ok(typeof r.body?.error?.code === 'string' && r.body.error.message, JSON.stringify(r.body));
    }), { numRuns: 300 });
  });

  it('forged, expired-looking and missing tokens -> 401 on every route', async () => {
    const routes: Array<[string, string]> = [['POST', ROUTES.meta], ['GET', ROUTES.whoami], ['GET', ROUTES.blockList], ['POST', ROUTES.blockSync],
      ['POST', ROUTES.leaseAcquire], ['GET', ROUTES.events], ['PUT', ROUTES.block + 'a'.repeat(64)], ['POST', ROUTES.logout]];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), fc.option(fc.oneof(fc.base64String(), fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')))), async ([method, path], token) => {
      const headers: Record<string, string> = { [CLIENT_HEADER]: s.client };
      if (token !== null) headers.authorization = `Bearer ${token.replace(/[^\x20-\x7e]/g, '')}`;
      const r = await call(srv.url, method, path, { headers, json: method === 'POST' ? {} : undefined, raw: method === 'PUT' ? Buffer.from('x') : undefined });
      is4xx(r.status, `${method} ${path} token ${JSON.stringify(token)}`);
    }), { numRuns: 100 });
  });

  it('huge bodies -> 413; bad block ids and ranges -> 4xx', async () => {
    const huge = await fetch(srv.url + ROUTES.meta, {
      method: 'POST', headers: { authorization: `Bearer ${s.token}`, [CLIENT_HEADER]: s.client, 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'getattr', args: [1], pad: 'x'.repeat(MAX_JSON_BODY) }),
    });
    await huge.arrayBuffer();
    assert.equal(huge.status, 413);
    const bigXattr = await s.metaRaw('setxattr', [1, 'user.big', Buffer.alloc(65 * 1024), 0, T]);
    is4xx(bigXattr.status, 'xattr over 64 KiB');
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 1, maxLength: 80 }).filter((x) => !/^[0-9a-f]{64}$/.test(x)), async (id) => {
      const r = await s.req('GET', ROUTES.block + encodeURIComponent(id));
      is4xx(r.status, `GET block ${JSON.stringify(id)}`);
    }), { numRuns: 100 });
    const anyId = 'b'.repeat(64);
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 30 }).filter((x) => !/^\s*bytes=\d{1,15}-\d{0,15}\s*$/.test(x)).map((x) => x.replace(/[^\x20-\x7e]/g, '')), async (range) => {
      const r = await s.req('GET', ROUTES.block + anyId, { headers: { range } });
      is4xx(r.status, `range ${JSON.stringify(range)}`);
    }), { numRuns: 100 });
  });

  it('the server still serves and the known file is unchanged', async () => {
    assert.equal((await call(srv.url, 'GET', ROUTES.health)).status, 200);
    assert.deepEqual(await known(), expected);
  });
});
