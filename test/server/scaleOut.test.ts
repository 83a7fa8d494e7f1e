/**
 * Scale-out (issue 4): two `mosaicfs serve` processes on ONE PostgreSQL database and ONE block
 * folder, one client session (same user) on each. Everything one client does must be seen by the
 * other as one consistent tree, races between the two servers must be decided once, and losing a
 * server must not stop the other.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFMT, type InodeAttr } from '../../src/meta/MetaStore.js';
import { login } from '../../src/remote/loginFlow.js';
import { openRemoteSession, type RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as ctx } from '../../src/vfs/types.js';
import { startPostgresCluster, type PostgresCluster } from '../helpers/postgresCluster.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { addUserWithCli, checkUserNamespace, PgServeProcess } from './pgServeProcess.js';

const USER = 'scaler';
const PASSWORD = 'one password, two servers';
/** Cached attributes and entries live this long: anything seen sooner came by an event. */
const LONG_TTL_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isCode(code: string) {
  return (err: unknown) => err instanceof FsError && err.code === code;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function writeWhole(s: RemoteSession, parent: number, name: string, data: Buffer, flags = fsc.O_CREAT | fsc.O_TRUNC): Promise<number> {
  const { fh, attr } = await s.vfs.create(ctx, parent, name, 0o644, fsc.O_WRONLY | flags);
  for (let off = 0; off < data.length; off += 512 * 1024) await s.vfs.write(ctx, fh, off, data.subarray(off, off + 512 * 1024));
  await s.vfs.fsync(ctx, fh, false);
  await s.vfs.release(ctx, fh);
  return attr.ino;
}

async function readWhole(s: RemoteSession, ino: number): Promise<Buffer> {
  const { fh } = await s.vfs.open(ctx, ino, fsc.O_RDONLY);
  try {
    const size = (await s.vfs.getattr(ctx, ino)).size;
    return await s.vfs.read(ctx, fh, 0, size + 1);
  } finally {
    await s.vfs.release(ctx, fh);
  }
}

async function names(s: RemoteSession, dir: number): Promise<string[]> {
  const fh = await s.vfs.opendir(ctx, dir);
  const out: string[] = [];
  try {
    let offset = 0;
    for (;;) {
      const page = await s.vfs.readdir(ctx, fh, offset, 128);
      if (page.length === 0) break;
      for (const e of page) if (e.name !== '.' && e.name !== '..') out.push(e.name);
      offset = page[page.length - 1]!.next;
    }
  } finally {
    await s.vfs.releasedir(ctx, fh);
  }
  return out.sort();
}

/** path -> size, plus the contents of regular files, walking the tree below `dir`. */
async function snapshot(s: RemoteSession, dir: number, prefix = ''): Promise<Map<string, { size: number; isDir: boolean; data?: Buffer }>> {
  const out = new Map<string, { size: number; isDir: boolean; data?: Buffer }>();
  for (const name of await names(s, dir)) {
    const attr: InodeAttr = await s.vfs.lookup(ctx, dir, name);
    const p = `${prefix}/${name}`;
    if ((attr.mode & S_IFMT) === S_IFDIR) {
      out.set(p, { size: 0, isDir: true });
      for (const [k, v] of await snapshot(s, attr.ino, p)) out.set(k, v);
    } else {
      out.set(p, { size: attr.size, isDir: false, data: await readWhole(s, attr.ino) });
    }
  }
  return out;
}

describe('scale-out: two mosaicfs serve processes on one PostgreSQL database and one block store', () => {
  let cluster: PostgresCluster;
  let root: string;
  let dataDir: string;
  let serverA: PgServeProcess;
  let serverB: PgServeProcess;
  let a: RemoteSession;
  let b: RemoteSession;

  before(async () => {
    cluster = await startPostgresCluster();
    root = await createTempDir('mosaicfs-scaleout-');
    dataDir = path.join(root, 'data'); // blocks of both servers: dataDir/blocks/<user id>
    await addUserWithCli(cluster.url, dataDir, USER, PASSWORD);
    serverA = new PgServeProcess(cluster.url, dataDir);
    serverB = new PgServeProcess(cluster.url, dataDir);
    await Promise.all([serverA.spawn(), serverB.spawn()]);
    assert.notEqual(serverA.url, serverB.url);
    const configA = path.join(root, 'config-a');
    const configB = path.join(root, 'config-b');
    await login({ url: serverA.url, user: USER, password: PASSWORD, configDir: configA });
    await login({ url: serverB.url, user: USER, password: PASSWORD, configDir: configB });
    a = await openRemoteSession({ url: serverA.url, configDir: configA, metaTtlMs: LONG_TTL_MS });
    b = await openRemoteSession({ url: serverB.url, configDir: configB, metaTtlMs: LONG_TTL_MS });
    assert.ok(a.events.connected && b.events.connected, 'both event streams connected');
  });

  after(async () => {
    await a?.close().catch(() => {});
    await b?.close().catch(() => {});
    await serverA?.stop();
    await serverB?.stop();
    await cluster?.stop();
    if (root) await removeTempDir(root);
  });

  it('a tree created through A is seen through B: paths, sizes and contents byte-exact', async () => {
    const top = await a.vfs.mkdir(ctx, ROOT_INO, 'tree', 0o755);
    const want = new Map<string, { size: number; isDir: boolean; data?: Buffer }>();
    const sizes = [0, 1, 4096, 70_000, 1024 * 1024, 2_621_440 + 7];
    for (let d = 0; d < 3; d++) {
      const dir = await a.vfs.mkdir(ctx, top.ino, `dir${d}`, 0o755);
      want.set(`/dir${d}`, { size: 0, isDir: true });
      const sub = await a.vfs.mkdir(ctx, dir.ino, 'sub', 0o750);
      want.set(`/dir${d}/sub`, { size: 0, isDir: true });
      for (const [i, size] of sizes.entries()) {
        const data = randomBytes(size);
        const parent = i % 2 ? sub.ino : dir.ino;
        const p = `/dir${d}${i % 2 ? '/sub' : ''}/f${i}-${size}`;
        await writeWhole(a, parent, `f${i}-${size}`, data);
        want.set(p, { size, isDir: false, data });
      }
    }
    const seenOnB = await snapshot(b, (await b.vfs.lookup(ctx, ROOT_INO, 'tree')).ino);
    assert.deepEqual([...seenOnB.keys()].sort(), [...want.keys()].sort(), 'same paths');
    for (const [p, w] of want) {
      const got = seenOnB.get(p)!;
      assert.equal(got.isDir, w.isDir, p);
      assert.equal(got.size, w.size, `${p} size`);
      if (w.data) assert.ok(got.data!.equals(w.data), `${p} contents byte-exact`);
    }
  });

  it("a change on B reaches A's cache through an event within a second", async () => {
    const received = a.stats().eventsReceived;
    // A caches "absent" (for LONG_TTL_MS unless an event says otherwise) ...
    await assert.rejects(a.vfs.lookup(ctx, ROOT_INO, 'news'), isCode('ENOENT'));
    await assert.rejects(a.vfs.lookup(ctx, ROOT_INO, 'news'), isCode('ENOENT'));
    const ino = await writeWhole(b, ROOT_INO, 'news', Buffer.from('first version'));
    const appeared = await waitFor('new name on A', () => a.vfs.lookup(ctx, ROOT_INO, 'news'), 1000);
    assert.equal(appeared.value.ino, ino);
    assert.equal(appeared.value.size, 'first version'.length);
    assert.deepEqual(await readWhole(a, ino), Buffer.from('first version'));

    // ... and cached attributes: chmod and a rewrite on B show on A without waiting out the TTL.
    assert.equal((await a.vfs.getattr(ctx, ino)).mode & 0o777, 0o644);
    await b.vfs.setattr(ctx, ino, { mode: 0o600 });
    const chmodded = await waitFor('chmod on A', async () => {
      const attr = await a.vfs.getattr(ctx, ino);
      return (attr.mode & 0o777) === 0o600 ? attr : null;
    }, 1000);
    const second = randomBytes(200_000);
    await writeWhole(b, ROOT_INO, 'news', second);
    const resized = await waitFor('new size on A', async () => {
      const attr = await a.vfs.getattr(ctx, ino);
      return attr.size === second.length ? attr : null;
    }, 1000);
    assert.ok((await readWhole(a, ino)).equals(second), 'A reads the new contents');

    // And the removal: B unlinks, A's cached positive entry goes.
    await b.vfs.unlink(ctx, ROOT_INO, 'news');
    const gone = await waitFor('unlink on A', () => a.vfs.lookup(ctx, ROOT_INO, 'news').then(() => null, (e) => (isCode('ENOENT')(e) ? true : null)), 1000);
    assert.ok(a.stats().eventsReceived > received, 'A heard events');
    assert.ok(Math.max(appeared.ms, chmodded.ms, resized.ms, gone.ms) < 1000,
      `create ${appeared.ms} ms, chmod ${chmodded.ms} ms, rewrite ${resized.ms} ms, unlink ${gone.ms} ms`);
  });

  it('concurrent creates of one name through A and B: exactly one wins', async () => {
    const dir = await a.vfs.mkdir(ctx, ROOT_INO, 'race', 0o755);
    for (let round = 0; round < 15; round++) {
      const name = `same-${round}`;
      const settled = await Promise.allSettled([a, b].map((s) =>
        s.vfs.create(ctx, dir.ino, name, 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL)
          .then(async (h) => {
            await s.vfs.write(ctx, h.fh, 0, Buffer.from(s === a ? 'written by A' : 'written by B'));
            await s.vfs.release(ctx, h.fh);
            return h.attr.ino;
          })));
      const won = settled.filter((r) => r.status === 'fulfilled');
      const lost = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: ${settled.map((r) => r.status === 'rejected' ? (r.reason as Error).message : 'ok').join(' / ')}`);
      assert.ok(isCode('EEXIST')(lost[0]!.reason), `loser: ${(lost[0]!.reason as Error).message}`);
      const winner = settled[0]!.status === 'fulfilled' ? 'A' : 'B';
      const ino = (won[0] as PromiseFulfilledResult<number>).value;
      for (const s of [a, b]) {
        const seen = await waitFor('winner visible', async () => {
          const attr = await s.vfs.lookup(ctx, dir.ino, name);
          return attr.ino === ino ? attr : null;
        }, 1000);
        assert.deepEqual(await readWhole(s, seen.value.ino), Buffer.from(`written by ${winner}`));
      }
      // mkdir of one name, too
      const dirs = await Promise.allSettled([a, b].map((s) => s.vfs.mkdir(ctx, dir.ino, `dir-${round}`, 0o755)));
      assert.equal(dirs.filter((r) => r.status === 'fulfilled').length, 1, `mkdir round ${round}`);
      assert.ok(dirs.some((r) => r.status === 'rejected' && isCode('EEXIST')(r.reason)));
    }
    const listing = await names(b, dir.ino);
    assert.equal(listing.length, 30);
  });

  it('concurrent renames forming a cycle through A and B: one fails, the tree stays consistent', async () => {
    const arena = await a.vfs.mkdir(ctx, ROOT_INO, 'cycle', 0o755);
    for (let round = 0; round < 10; round++) {
      const x = await a.vfs.mkdir(ctx, arena.ino, `x${round}`, 0o755);
      const y = await a.vfs.mkdir(ctx, arena.ino, `y${round}`, 0o755);
      await waitFor('dirs on B', () => b.vfs.lookup(ctx, arena.ino, `y${round}`), 1000);
      const settled = await Promise.allSettled([
        a.vfs.rename(ctx, arena.ino, `x${round}`, y.ino, 'x', 0), // x into y
        b.vfs.rename(ctx, arena.ino, `y${round}`, x.ino, 'y', 0), // y into x
      ]);
      const ok = settled.filter((r) => r.status === 'fulfilled').length;
      const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok, 1, `round ${round}: exactly one rename succeeds (${failed.map((f) => (f.reason as Error).message).join('; ')})`);
      assert.ok(isCode('EINVAL')(failed[0]!.reason), `the other is EINVAL: ${(failed[0]!.reason as Error).message}`);
      // Both clients agree on the outcome: one at the top, the other inside it.
      const aWon = settled[0]!.status === 'fulfilled';
      const [outer, inner, innerName] = aWon ? [y, x, 'x'] : [x, y, 'y'];
      for (const s of [a, b]) {
        await waitFor('outcome visible', async () => {
          const top = await names(s, arena.ino);
          const child = await s.vfs.lookup(ctx, outer.ino, innerName);
          return child.ino === inner.ino && !top.includes(aWon ? `x${round}` : `y${round}`) ? true : null;
        }, 1000);
      }
    }
    assert.deepEqual(await checkUserNamespace(cluster.url, dataDir, USER), [], 'fsck clean after the races');
  });

  it("the write lease: B's open for writing is EBUSY while A has the file open for writing, and succeeds after A closes", async () => {
    const ino = await writeWhole(a, ROOT_INO, 'leased', Buffer.from('v1'));
    await waitFor('leased on B', () => b.vfs.lookup(ctx, ROOT_INO, 'leased'), 1000);
    const held = await a.vfs.open(ctx, ino, fsc.O_WRONLY);
    await assert.rejects(b.vfs.open(ctx, ino, fsc.O_WRONLY), isCode('EBUSY'));
    await assert.rejects(b.vfs.open(ctx, ino, fsc.O_RDWR | fsc.O_APPEND), isCode('EBUSY'));
    const reader = await b.vfs.open(ctx, ino, fsc.O_RDONLY); // readers are not refused
    await b.vfs.release(ctx, reader.fh);
    await a.vfs.write(ctx, held.fh, 0, Buffer.from('v2 from A'));
    await a.vfs.release(ctx, held.fh);
    const mine = await b.vfs.open(ctx, ino, fsc.O_WRONLY | fsc.O_TRUNC);
    try {
      await assert.rejects(a.vfs.open(ctx, ino, fsc.O_WRONLY), isCode('EBUSY'), 'and now the other way round');
      await b.vfs.write(ctx, mine.fh, 0, Buffer.from('v3 from B'));
    } finally {
      await b.vfs.release(ctx, mine.fh);
    }
    await waitFor('v3 on A', async () => ((await readWhole(a, ino)).toString() === 'v3 from B' ? true : null), 1000);
  });

  it("SIGKILL of server A: B's client keeps working, and A's client reconnects once A restarts", async () => {
    const before = randomBytes(300_000);
    const beforeIno = await writeWhole(a, ROOT_INO, 'before-kill', before);
    await serverA.kill9();

    // B's side is untouched: it reads A's fsync'd data and keeps changing the tree.
    const bIno = await waitFor('before-kill on B', () => b.vfs.lookup(ctx, ROOT_INO, 'before-kill'), 1000);
    assert.equal(bIno.value.ino, beforeIno);
    assert.ok((await readWhole(b, beforeIno)).equals(before));
    const during = randomBytes(150_000);
    const duringIno = await writeWhole(b, ROOT_INO, 'during-outage', during);
    await b.vfs.mkdir(ctx, ROOT_INO, 'made-during-outage', 0o755);

    // A's client waits for its server (requests retry) and carries on once it is back on its port.
    const pending = a.vfs.lookup(ctx, ROOT_INO, 'during-outage');
    await sleep(300);
    await serverA.spawn();
    assert.equal((await pending).ino, duringIno);
    assert.ok((await readWhole(a, duringIno)).equals(during), "A reads what B wrote while A's server was down");
    await waitFor("A's event stream back", async () => (a.events.connected ? true : null), 10_000);
    await assert.rejects(a.vfs.lookup(ctx, ROOT_INO, 'after-restart'), isCode('ENOENT'));
    await writeWhole(b, ROOT_INO, 'after-restart', Buffer.from('events flow again'));
    const seen = await waitFor('event after restart', () => a.vfs.lookup(ctx, ROOT_INO, 'after-restart'), 1000);
    assert.deepEqual(await readWhole(a, seen.value.ino), Buffer.from('events flow again'));
    const fromA = await writeWhole(a, ROOT_INO, 'from-a-after-restart', Buffer.from('A writes again'));
    const onB = await waitFor('A change on B', () => b.vfs.lookup(ctx, ROOT_INO, 'from-a-after-restart'), 1000);
    assert.equal(onB.value.ino, fromA);
    assert.ok(a.events.reconnects >= 1, 'A reconnected its event stream');
  });

  it('both servers stop cleanly and the namespace is fsck clean', async () => {
    await a.close();
    await b.close();
    assert.equal(await serverA.stop(), 0, serverA.serverOutput());
    assert.equal(await serverB.stop(), 0, serverB.serverOutput());
    assert.deepEqual(await checkUserNamespace(cluster.url, dataDir, USER), []);
  });
});
