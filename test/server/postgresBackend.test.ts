import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FsError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFREG } from '../../src/meta/MetaStore.js';
import type { ChangeEvent } from '../../src/remote/protocol.js';
import type { UserRecord } from '../../src/server/AccountStore.js';
import type { ServerBackend } from '../../src/server/backend.js';
import { openPostgresBackend } from '../../src/server/postgres/index.js';
import { payloads } from '../../src/server/postgres/PostgresCoordinator.js';
import { startPostgresCluster, type PostgresCluster } from '../helpers/postgresCluster.js';

const TTL = 600;
let cluster: PostgresCluster;
let one: ServerBackend;
let two: ServerBackend;

before(async () => {
  cluster = await startPostgresCluster();
  // Two "servers" on one database, started at the same moment (migrations race under the advisory lock).
  [one, two] = await Promise.all([
    openPostgresBackend(cluster.url, { leaseTtlMs: TTL }),
    openPostgresBackend(cluster.url, { leaseTtlMs: TTL }),
  ]);
});

after(async () => {
  await one?.close();
  await two?.close();
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function user(id: string, name: string): UserRecord {
  return {
    id, name, loginSalt: 'c2FsdA==', loginKdf: { name: 'scrypt', N: 1024, r: 8, p: 1 },
    verifier: { salt: 'dg==', N: 16384, r: 8, p: 1, hash: 'aGFzaA==' }, volumeId: '00000000-0000-4000-8000-000000000001',
    blockSize: 4 * 1024 * 1024, wrappedKey: { nonce: 'bg==', wrapped: 'dw==', tag: 'dA==' }, disabled: false, created: 1_700_000_000_000,
  };
}

/** Collects events of one user at one server; waitFor resolves once `pred` holds (or fails after 1 s). */
function collector(b: ServerBackend, userId: string) {
  const got: ChangeEvent[] = [];
  const stop = b.coordinator.subscribe(userId, (e) => got.push(e));
  return {
    got,
    stop,
    async waitFor(pred: (events: ChangeEvent[]) => boolean): Promise<number> {
      const t0 = Date.now();
      while (!pred(got)) {
        if (Date.now() - t0 > 1000) assert.fail(`event not delivered within 1 s (got ${JSON.stringify(got).slice(0, 200)})`);
        await sleep(5);
      }
      return Date.now() - t0;
    },
  };
}

describe('PostgreSQL backend: accounts shared by two servers', () => {
  it('sees users and tokens added through the other server; a taken name is EEXIST', async () => {
    await one.accounts.addUser(user('aaaaaaaaaaaaaaaa', 'alice'));
    assert.deepEqual(await two.accounts.getUserByName('alice'), user('aaaaaaaaaaaaaaaa', 'alice'));
    await assert.rejects(two.accounts.addUser(user('bbbbbbbbbbbbbbbb', 'alice')),
      (err: unknown) => err instanceof FsError && err.code === 'EEXIST');
    await two.accounts.addUser(user('bbbbbbbbbbbbbbbb', 'bob'));
    assert.deepEqual((await one.accounts.listUsers()).map((u) => u.name), ['alice', 'bob']);

    await two.accounts.setDisabled('bbbbbbbbbbbbbbbb', true);
    assert.equal((await one.accounts.getUserById('bbbbbbbbbbbbbbbb'))?.disabled, true);
    const creds = { loginSalt: 'bmV3', loginKdf: { name: 'scrypt' as const, N: 2048, r: 8, p: 1 },
      verifier: { salt: 'eA==', N: 16384, r: 8, p: 1, hash: 'eQ==' }, wrappedKey: { nonce: 'MQ==', wrapped: 'Mg==', tag: 'Mw==' } };
    await one.accounts.updateCredentials('aaaaaaaaaaaaaaaa', creds);
    const a = await two.accounts.getUserById('aaaaaaaaaaaaaaaa');
    assert.deepEqual([a?.loginSalt, a?.loginKdf, a?.verifier, a?.wrappedKey], [creds.loginSalt, creds.loginKdf, creds.verifier, creds.wrappedKey]);
    await assert.rejects(one.accounts.updateCredentials('cccccccccccccccc', creds),
      (err: unknown) => err instanceof FsError && err.code === 'ENOENT');

    await one.accounts.addToken({ hash: 'h1', userId: 'aaaaaaaaaaaaaaaa', expiresAt: 2000, created: 1000 });
    await one.accounts.addToken({ hash: 'h2', userId: 'aaaaaaaaaaaaaaaa', expiresAt: 5000, created: 1000 });
    assert.deepEqual(await two.accounts.getToken('h1', 1500), { hash: 'h1', userId: 'aaaaaaaaaaaaaaaa', expiresAt: 2000, created: 1000 });
    assert.equal(await two.accounts.getToken('h1', 2500), null, 'expired');
    await two.accounts.deleteUser('aaaaaaaaaaaaaaaa');
    assert.equal(await one.accounts.getToken('h2', 1500), null, 'tokens go with the user');
    assert.equal(await one.accounts.getUserByName('alice'), null);

    const [s1, s2] = await Promise.all([one.accounts.serverSecret(), two.accounts.serverSecret()]);
    assert.equal(s1.length, 32);
    assert.deepEqual(s1, s2);
  });
});

describe('PostgreSQL backend: coordination across two servers', () => {
  it('refuses a lease held through the other server, and hands it over after release', async () => {
    assert.equal(await one.coordinator.acquireWrite('u1', 10, 'clientA'), true);
    assert.equal(await one.coordinator.acquireWrite('u1', 10, 'clientA'), true, 're-take by the holder');
    assert.equal(await two.coordinator.acquireWrite('u1', 10, 'clientB'), false);
    assert.equal(await two.coordinator.acquireWrite('u2', 10, 'clientB'), true, 'other user, other lease');
    await two.coordinator.releaseWrite('u1', 10, 'clientB'); // not the holder: no effect
    assert.equal(await two.coordinator.acquireWrite('u1', 10, 'clientB'), false);
    await one.coordinator.releaseWrite('u1', 10, 'clientA');
    assert.equal(await two.coordinator.acquireWrite('u1', 10, 'clientB'), true);
    await two.coordinator.dropClient('u1', 'clientB');
    await two.coordinator.dropClient('u2', 'clientB');
  });

  it('grants a contested free lease to exactly one of many clients', async () => {
    const res = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? one : two).coordinator.acquireWrite('u3', 77, `c${i}`)));
    assert.equal(res.filter(Boolean).length, 1);
  });

  it('lets another client take over an expired lease, and keeps a touched one', async () => {
    assert.equal(await one.coordinator.acquireWrite('u4', 1, 'old'), true);
    assert.equal(await one.coordinator.acquireWrite('u4', 2, 'kept'), true);
    await sleep(TTL / 2);
    await one.coordinator.touch('u4', 'kept');
    await sleep(TTL / 2 + 150);
    assert.equal(await two.coordinator.acquireWrite('u4', 1, 'new'), true, 'expired lease is taken over');
    assert.equal(await two.coordinator.acquireWrite('u4', 2, 'new'), false, 'touched lease is still held');
    assert.equal(await one.coordinator.acquireWrite('u4', 1, 'old'), false, 'the old holder lost it');
  });

  it('tracks opens of live clients across servers', async () => {
    await one.coordinator.opened('u5', 5, 'a');
    await two.coordinator.opened('u5', 6, 'b');
    assert.deepEqual([...await two.coordinator.openElsewhere('u5', [5, 6, 7], 'b')], [5]);
    assert.deepEqual([...await one.coordinator.openElsewhere('u5', [5, 6, 7], 'a')], [6]);
    await one.coordinator.closed('u5', 5, 'a');
    assert.deepEqual([...await two.coordinator.openElsewhere('u5', [5, 6], 'b')], []);
    await sleep(TTL + 100);
    assert.deepEqual([...await one.coordinator.openElsewhere('u5', [6], 'a')], [], 'an expired client holds nothing open');
  });

  it('delivers an event published on one server to subscribers on both within a second', async () => {
    const atTwo = collector(two, 'u6');
    const atOne = collector(one, 'u6');
    const other = collector(two, 'u7');
    const event: ChangeEvent = { origin: 'c1', inos: [1, 2], entries: [{ parent: 1, name: 'ä b' }], data: [2] };
    await one.coordinator.publish('u6', event);
    const ms = await atTwo.waitFor((g) => g.length === 1);
    await atOne.waitFor((g) => g.length === 1);
    assert.deepEqual(atTwo.got, [event]);
    assert.deepEqual(atOne.got, [event]);
    await sleep(50);
    assert.deepEqual(other.got, [], 'other users hear nothing');
    atTwo.stop();
    await one.coordinator.publish('u6', event);
    await atOne.waitFor((g) => g.length === 2);
    assert.equal(atTwo.got.length, 1, 'unsubscribed');
    atOne.stop();
    other.stop();
    assert.ok(ms < 1000);
  });

  it('splits an event too large for one NOTIFY and delivers all of it', async () => {
    const entries = Array.from({ length: 400 }, (_, i) => ({ parent: 1000 + i, name: `${'n'.repeat(60)}-${i}` }));
    const event: ChangeEvent = { origin: 'big', inos: Array.from({ length: 3000 }, (_, i) => i + 1), entries, data: [7, 8] };
    const parts = payloads('u8', event);
    assert.ok(parts.length > 1);
    for (const p of parts) assert.ok(Buffer.byteLength(p) < 8000);
    const atTwo = collector(two, 'u8');
    await one.coordinator.publish('u8', event);
    await atTwo.waitFor((g) => g.length === parts.length);
    assert.deepEqual(atTwo.got.flatMap((e) => e.inos).sort((a, b) => a - b), event.inos);
    assert.deepEqual(atTwo.got.flatMap((e) => e.entries), entries);
    assert.deepEqual(atTwo.got.flatMap((e) => e.data), [7, 8]);
    assert.ok(atTwo.got.every((e) => e.origin === 'big'));
    atTwo.stop();
  });
});

describe('PostgreSQL backend: one user namespace through two servers', () => {
  it('shows one tree to both servers, and drops it', async () => {
    const m1 = await one.openMeta('dddddddddddddddd', 65536);
    const m2 = await two.openMeta('dddddddddddddddd', 65536);
    await m1.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: { sec: 1, nsec: 0 } });
    await m2.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: { sec: 1, nsec: 0 } });
    const d = await m1.create(ROOT_INO, 'd', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: { sec: 2, nsec: 0 } });
    const f = await m2.create(d.ino, 'f', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: { sec: 3, nsec: 0 } });
    assert.equal((await m1.lookup(d.ino, 'f'))?.ino, f.ino);
    assert.equal(await m1.pathOf(f.ino), '/d/f');
    await m1.close();
    await m2.close();
    await one.dropNamespace('dddddddddddddddd');
    const again = await two.openMeta('dddddddddddddddd', 65536);
    await again.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: { sec: 1, nsec: 0 } });
    assert.equal(await again.lookup(ROOT_INO, 'd'), null);
    await again.close();
    await assert.rejects(one.openMeta('../etc', 65536), RangeError);
  });
});
