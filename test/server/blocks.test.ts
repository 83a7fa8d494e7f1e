import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_BLOCK_BODY, ROUTES } from '../../src/remote/protocol.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { Session } from './apiClient.js';

const T = { sec: 1_700_000_000, nsec: 0 };
const id = (n: number): string => n.toString(16).padStart(64, '0');

/** Sends a PUT by hand: headers, then `parts` with pauses; returns the raw response text ('' if none). */
function rawPut(url: string, token: string, blockId: string, contentLength: number, parts: Buffer[], opts: { endEarly?: boolean; afterPart?: (i: number) => void; pauseMs?: number } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let response = '';
    sock.on('data', (d) => { response += d.toString('latin1'); });
    sock.on('error', () => resolve(response));
    sock.on('close', () => resolve(response));
    sock.on('connect', async () => {
      try {
        sock.write(`PUT ${ROUTES.block}${blockId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
          `X-Mosaicfs-Client: ${randomUUID()}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${contentLength}\r\nConnection: close\r\n\r\n`);
        for (const [i, p] of parts.entries()) {
          sock.write(p);
          opts.afterPart?.(i);
          await new Promise((r) => setTimeout(r, opts.pauseMs ?? 100));
        }
        if (opts.endEarly) sock.destroy();
      } catch (err) {
        reject(err);
      }
    });
  });
}

describe('server: blocks', () => {
  let srv: TestServer;
  let s: Session;
  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'pw');
    s = await Session.open(srv.url, 'alice', 'pw');
  });
  after(() => srv.stop());

  it('round-trips, with Range reads (206), HEAD, 404 and 416', async () => {
    const data = randomBytes(200_000);
    assert.equal((await s.req('PUT', ROUTES.block + id(1), { raw: data })).status, 204);
    assert.equal((await s.req('PUT', ROUTES.block + id(1), { raw: data })).status, 204, 'idempotent');
    const whole = await s.req('GET', ROUTES.block + id(1));
    assert.equal(whole.status, 200);
    assert.ok(data.equals(whole.body));
    const part = await s.req('GET', ROUTES.block + id(1), { headers: { range: 'bytes=65536-131071' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 65536-131071/*');
    assert.ok(data.subarray(65536, 131072).equals(part.body));
    const tail = await s.req('GET', ROUTES.block + id(1), { headers: { range: 'bytes=199990-' } });
    assert.equal(tail.status, 206);
    assert.ok(data.subarray(199990).equals(tail.body));
    const clipped = await s.req('GET', ROUTES.block + id(1), { headers: { range: 'bytes=199999-300000' } });
    assert.equal(clipped.status, 206);
    assert.equal(clipped.body.length, 1);
    assert.equal((await s.req('GET', ROUTES.block + id(1), { headers: { range: 'bytes=200000-200010' } })).status, 416);
    assert.equal((await s.req('GET', ROUTES.block + id(1), { headers: { range: 'bytes=10-5' } })).status, 416);
    assert.equal((await s.req('GET', ROUTES.block + id(1), { headers: { range: 'items=0-5' } })).status, 416);
    assert.equal((await s.req('HEAD', ROUTES.block + id(1))).status, 200);
    assert.equal((await s.req('HEAD', ROUTES.block + id(2))).status, 404);
    const missing = await s.req('GET', ROUTES.block + id(2));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ENOENT');
    assert.equal((await s.req('POST', ROUTES.blockSync)).status, 204);
  });

  it('lists in pages; DELETE refuses referenced blocks and deletes others', async () => {
    for (let i = 10; i < 25; i++) assert.equal((await s.req('PUT', ROUTES.block + id(i), { raw: Buffer.from([i]) })).status, 204);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 10);
      const r = await s.req('GET', `${ROUTES.blockList}?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.blocks.length <= 4);
      seen.push(...r.body.blocks.map((b: { id: string }) => b.id));
      cursor = r.body.next;
      if (!cursor) break;
    }
    assert.deepEqual(seen, [id(1), ...Array.from({ length: 15 }, (_, k) => id(k + 10))]);
    assert.equal((await s.req('GET', `${ROUTES.blockList}?limit=0`)).status, 400);
    assert.equal((await s.req('GET', `${ROUTES.blockList}?cursor=../x`)).status, 400);

    const f = await s.meta('create', 1, 'f', { mode: 0o100644, uid: 0, gid: 0, now: T });
    await s.meta('commitSlices', f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 1, blockId: id(10), blockOff: 0 }] }], [{ id: id(10), size: 1, storedSize: 1 }], 1, T);
    const refused = await s.req('DELETE', ROUTES.block + id(10));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'EBUSY');
    assert.equal((await s.req('HEAD', ROUTES.block + id(10))).status, 200);
    assert.equal((await s.req('DELETE', ROUTES.block + id(11))).status, 204);
    assert.equal((await s.req('HEAD', ROUTES.block + id(11))).status, 404);
  });

  it('a truncated or aborted upload never stores a partial block; too large is 413', async () => {
    const data = randomBytes(100_000);
    const r1 = await rawPut(srv.url, s.token, id(100), data.length, [data.subarray(0, 30_000), data.subarray(30_000, 60_000)], { endEarly: true });
    assert.doesNotMatch(r1, /^HTTP\/1\.1 2/);
    assert.equal((await s.req('HEAD', ROUTES.block + id(100))).status, 404);
    // body longer than announced: only Content-Length bytes count; a body shorter then closed: aborted
    const r2 = await rawPut(srv.url, s.token, id(101), 10, [Buffer.alloc(5)], { endEarly: true });
    assert.doesNotMatch(r2, /^HTTP\/1\.1 2/);
    assert.equal((await s.req('HEAD', ROUTES.block + id(101))).status, 404);
    const big = await s.req('PUT', ROUTES.block + id(102), { raw: Buffer.alloc(MAX_BLOCK_BODY + 1) });
    assert.equal(big.status, 413);
    assert.equal((await s.req('HEAD', ROUTES.block + id(102))).status, 404);
    const wrongType = await s.req('PUT', ROUTES.block + id(103), { raw: 'text', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    // the largest allowed block is accepted
    const max = randomBytes(MAX_BLOCK_BODY);
    assert.equal((await s.req('PUT', ROUTES.block + id(104), { raw: max })).status, 204);
    assert.ok(max.equals((await s.req('GET', ROUTES.block + id(104))).body));
  });
});

describe('server: graceful shutdown', () => {
  it('finishes an in-flight upload before closing; the block is there after a restart', async () => {
    const dataDir = await createTempDir('mosaicfs-server-');
    try {
      let srv = await startTestServer({ dataDir });
      await srv.addUser('alice', 'pw');
      const s = await Session.open(srv.url, 'alice', 'pw');
      const data = randomBytes(3_000_000);
      let stopping: Promise<void> | null = null;
      const parts = [data.subarray(0, 1_000_000), data.subarray(1_000_000, 2_000_000), data.subarray(2_000_000)];
      const { hostname, port } = new URL(srv.url);
      let refusedWhileClosing: Promise<boolean> | null = null;
      const response = await rawPut(srv.url, s.token, id(7), data.length, parts, {
        pauseMs: 300,
        afterPart: (i) => {
          if (i !== 1) return;
          stopping = srv.stop({ keepDataDir: true });
          // a new connection is refused once closing has begun
          refusedWhileClosing = new Promise<boolean>((resolve) => {
            setTimeout(() => {
              const c = net.connect(Number(port), hostname);
              c.on('connect', () => { c.destroy(); resolve(false); });
              c.on('error', () => resolve(true));
            }, 100);
          });
        },
      });
      assert.match(response, /^HTTP\/1\.1 204/, response.slice(0, 200));
      assert.ok(stopping, 'close started during the upload');
      await stopping;
      assert.equal(await refusedWhileClosing, true, 'new connections are refused while closing');
      srv = await startTestServer({ dataDir });
      try {
        const s2 = await Session.open(srv.url, 'alice', 'pw');
        const back = await s2.req('GET', ROUTES.block + id(7));
        assert.equal(back.status, 200);
        assert.ok(data.equals(back.body));
      } finally {
        await srv.stop();
      }
    } finally {
      await removeTempDir(dataDir);
    }
  });
});
