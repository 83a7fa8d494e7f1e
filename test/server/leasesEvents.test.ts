import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT_HEADER, ROUTES, type ChangeEvent } from '../../src/remote/protocol.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { Session } from './apiClient.js';

const T = { sec: 1_700_000_000, nsec: 0 };
const FILE = { mode: 0o100644, uid: 0, gid: 0, now: T };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects ChangeEvents from GET /v1/events until stopped. */
async function listen(s: Session): Promise<{ events: ChangeEvent[]; pings: () => number; stop: () => void }> {
  const ac = new AbortController();
  const res = await fetch(s.url + ROUTES.events, { headers: { authorization: `Bearer ${s.token}`, [CLIENT_HEADER]: s.client }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: ChangeEvent[] = [];
  let pings = 0;
  let buf = '';
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of res.body!) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (frame === ': ping') pings++;
          const m = /^event: change\ndata: (.*)$/s.exec(frame);
          if (m) events.push(JSON.parse(m[1]!));
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, pings: () => pings, stop: () => ac.abort() };
}

describe('server: change events and leases', () => {
  let srv: TestServer;
  let a1: Session;
  let a2: Session;
  let b: Session;
  before(async () => {
    srv = await startTestServer({ leaseTtlMs: 800, ssePingMs: 200, purgeSweepMs: 200 });
    await srv.addUser('alice', 'pw');
    await srv.addUser('bob', 'pw');
    a1 = await Session.open(srv.url, 'alice', 'pw');
    a2 = await Session.open(srv.url, 'alice', 'pw');
    b = await Session.open(srv.url, 'bob', 'pw');
  });
  after(() => srv.stop());

  it("events reach the user's other clients, not the origin, not other users", async () => {
    const l1 = await listen(a1);
    const l2 = await listen(a2);
    const lb = await listen(b);
    try {
      const f = await a1.meta('create', 1, 'doc', FILE);
      await a1.meta('setattr', f.ino, { mode: 0o100600, ctime: T });
      await a1.meta('commitSlices', f.ino, [], [], 10, T);
      await a1.meta('rename', 1, 'doc', 1, 'doc2', 0, T);
      await a1.meta('getattr', f.ino); // read-only: no event
      await sleep(500);
      assert.deepEqual(l2.events.map((e) => e.origin), Array(4).fill(a1.client));
      assert.deepEqual(l2.events[0], { origin: a1.client, inos: [1, f.ino], entries: [{ parent: 1, name: 'doc' }], data: [] });
      assert.deepEqual(l2.events[1]!.inos, [f.ino]);
      assert.deepEqual(l2.events[2]!.data, [f.ino]);
      assert.deepEqual(l2.events[3]!.entries, [{ parent: 1, name: 'doc' }, { parent: 1, name: 'doc2' }]);
      assert.ok(l2.events[3]!.inos.includes(f.ino));
      assert.equal(l1.events.length, 0, 'the origin does not get its own events');
      assert.equal(lb.events.length, 0, 'bob gets nothing of alice');
      assert.ok(l2.pings() >= 1, 'keep-alive pings arrive');
    } finally {
      l1.stop();
      l2.stop();
      lb.stop();
    }
  });

  it('needs a client id: missing or malformed -> 400', async () => {
    const r = await fetch(srv.url + ROUTES.leaseAcquire, {
      method: 'POST', headers: { authorization: `Bearer ${a1.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ ino: 1, write: true }),
    });
    assert.equal(r.status, 400);
    const bad = await fetch(srv.url + ROUTES.meta, {
      method: 'POST', headers: { authorization: `Bearer ${a1.token}`, [CLIENT_HEADER]: 'not-a-uuid', 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'getattr', args: [1] }),
    });
    assert.equal(bad.status, 400);
  });

  it('two writers: the second gets 409 EBUSY until release or expiry; other users are independent', async () => {
    const f = await a1.meta('create', 1, 'shared', FILE);
    assert.equal((await a1.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 204);
    const busy = await a2.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, 'EBUSY');
    assert.equal((await a2.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: false } })).status, 204, 'readers are fine');
    assert.equal((await b.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 204, "bob's inode of that number is his own");
    assert.equal((await a1.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 204, 're-acquire by the holder');
    assert.equal((await a1.req('POST', ROUTES.leaseRelease, { json: { ino: f.ino, write: true } })).status, 204);
    assert.equal((await a2.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 204);
    // a1 now waits for a2's lease to expire: a2 stops talking
    assert.equal((await a1.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 409);
    await sleep(1000);
    assert.equal((await a1.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: true } })).status, 204);
    assert.equal((await a1.req('POST', ROUTES.leaseAcquire, { json: { ino: 'x', write: true } })).status, 400);
  });

  it('purgeInode waits while another client has the file open; orphans open elsewhere are not listed', async () => {
    const f = await a1.meta('create', 1, 'tmp', FILE);
    assert.equal((await a2.req('POST', ROUTES.leaseAcquire, { json: { ino: f.ino, write: false } })).status, 204);
    await a1.meta('unlink', 1, 'tmp', T);
    assert.deepEqual(await a1.meta('listOrphans'), [], 'open on a2: not an orphan for a1 to purge');
    assert.ok((await a2.meta<number[]>('listOrphans')).includes(f.ino), 'a2 itself sees it');
    await a1.meta('purgeInode', f.ino);
    assert.equal((await a2.meta('getattr', f.ino)).nlink, 0, 'still readable by a2 while open');
    assert.equal((await a2.req('POST', ROUTES.leaseRelease, { json: { ino: f.ino, write: false } })).status, 204);
    const gone = await a2.metaRaw('getattr', [f.ino]);
    assert.equal(gone.status, 404, 'purged when the last client closed it');
    // a client that vanishes: its open expires and the sweep purges
    const g = await a1.meta('create', 1, 'tmp2', FILE);
    assert.equal((await a2.req('POST', ROUTES.leaseAcquire, { json: { ino: g.ino, write: false } })).status, 204);
    await a1.meta('unlink', 1, 'tmp2', T);
    await a1.meta('purgeInode', g.ino);
    assert.equal((await a1.meta('getattr', g.ino)).nlink, 0);
    await sleep(1400);
    assert.equal((await a1.metaRaw('getattr', [g.ino])).status, 404);
  });
});
