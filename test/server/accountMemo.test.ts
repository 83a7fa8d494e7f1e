import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { UserRecord } from '../../src/server/AccountStore.js';
import { CachingAccountStore } from '../../src/server/CachingAccountStore.js';
import { TouchThrottle } from '../../src/server/context.js';
import { SqliteAccountStore } from '../../src/server/SqliteAccountStore.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const user = (id: string, name: string): UserRecord => ({
  id, name, loginSalt: 'c2FsdA==', loginKdf: { name: 'scrypt', N: 1024, r: 8, p: 1 },
  verifier: { salt: 'x', hash: 'y', N: 1024, r: 8, p: 1 } as unknown as UserRecord['verifier'],
  volumeId: '00000000-0000-4000-8000-000000000000', blockSize: 1 << 20,
  wrappedKey: { nonce: 'n', wrapped: 'w', tag: 't' }, disabled: false, created: 1,
});

// The request path memoises token and user reads; these check that the memo is never stale.
describe('SqliteAccountStore read memo', () => {
  let dir: string;
  let server: SqliteAccountStore;
  let admin: SqliteAccountStore; // a second connection, as `mosaicfs user ...` next to a running server
  const far = Date.now() + 3_600_000;

  before(async () => {
    dir = await createTempDir('mosaicfs-accounts-');
    server = new SqliteAccountStore(path.join(dir, 'server.db'));
    await server.init();
    admin = new SqliteAccountStore(path.join(dir, 'server.db'));
    await admin.init();
  });
  after(async () => {
    await server?.close();
    await admin?.close();
    await removeTempDir(dir);
  });

  it('sees another connection disabling a user and revoking tokens on the next read', async () => {
    await server.addUser(user('aaaaaaaaaaaaaaaa', 'ann'));
    await server.addToken({ hash: 'h1', userId: 'aaaaaaaaaaaaaaaa', expiresAt: far, created: 1 });
    assert.equal((await server.getUserById('aaaaaaaaaaaaaaaa'))?.disabled, false);
    assert.equal((await server.getToken('h1', Date.now()))?.userId, 'aaaaaaaaaaaaaaaa');
    assert.equal((await server.getUserById('aaaaaaaaaaaaaaaa'))?.disabled, false, 'memoised read');

    await admin.setDisabled('aaaaaaaaaaaaaaaa', true);
    assert.equal((await server.getUserById('aaaaaaaaaaaaaaaa'))?.disabled, true);
    await admin.deleteUserTokens('aaaaaaaaaaaaaaaa');
    assert.equal(await server.getToken('h1', Date.now()), null);
    await admin.addToken({ hash: 'h2', userId: 'aaaaaaaaaaaaaaaa', expiresAt: far, created: 2 });
    assert.equal((await server.getToken('h2', Date.now()))?.created, 2, 'a known-absent token that appears later is found');
  });

  it('sees its own writes at once, and expiry still applies to memoised tokens', async () => {
    await server.addUser(user('bbbbbbbbbbbbbbbb', 'bob'));
    const expiresAt = Date.now() + 60_000;
    await server.addToken({ hash: 'h3', userId: 'bbbbbbbbbbbbbbbb', expiresAt, created: 1 });
    assert.ok(await server.getToken('h3', Date.now()));
    assert.equal(await server.getToken('h3', expiresAt), null, 'expired');
    assert.equal(await admin.getToken('h3', Date.now()), null, 'and deleted on the way');
    await server.addToken({ hash: 'h4', userId: 'bbbbbbbbbbbbbbbb', expiresAt: far, created: 1 });
    assert.ok(await server.getToken('h4', Date.now()));
    await server.deleteToken('h4');
    assert.equal(await server.getToken('h4', Date.now()), null);
    await server.setDisabled('bbbbbbbbbbbbbbbb', true);
    assert.equal((await server.getUserById('bbbbbbbbbbbbbbbb'))?.disabled, true);
    await server.deleteUser('bbbbbbbbbbbbbbbb');
    assert.equal(await server.getUserById('bbbbbbbbbbbbbbbb'), null);
  });

  it('hands out records no caller can change for another', async () => {
    await server.addUser(user('cccccccccccccccc', 'cid'));
    const u = (await server.getUserById('cccccccccccccccc'))!;
    assert.throws(() => { (u as { disabled: boolean }).disabled = true; }, TypeError);
    assert.throws(() => { (u.loginKdf as { N: number }).N = 2; }, TypeError);
    assert.equal((await server.getUserById('cccccccccccccccc'))?.disabled, false);
  });
});

describe('CachingAccountStore (PostgreSQL deployments)', () => {
  it('serves reads from cache for ttlMs, sees its own writes at once and others\' after ttlMs', async () => {
    const dir = await createTempDir('mosaicfs-accounts-');
    const inner = new SqliteAccountStore(path.join(dir, 'server.db'));
    const other = new SqliteAccountStore(path.join(dir, 'server.db')); // another server of the deployment
    try {
      await inner.init();
      await other.init();
      let t = 0;
      let reads = 0;
      const getToken = inner.getToken.bind(inner);
      inner.getToken = (h, now) => { reads++; return getToken(h, now); };
      const cached = new CachingAccountStore(inner, 1000, () => t);
      const far = Date.now() + 3_600_000;
      await cached.addUser(user('dddddddddddddddd', 'dan'));
      await cached.addToken({ hash: 'h', userId: 'dddddddddddddddd', expiresAt: far, created: 1 });
      assert.ok(await cached.getToken('h', Date.now()));
      assert.ok(await cached.getToken('h', Date.now()));
      assert.equal(reads, 1, 'second read from cache');
      assert.equal(await cached.getToken('h', far), null, 'expiry checked on cached tokens');

      await cached.addToken({ hash: 'h2', userId: 'dddddddddddddddd', expiresAt: far, created: 1 });
      assert.ok(await cached.getToken('h2', Date.now()));
      await other.deleteToken('h2');
      t = 999;
      assert.ok(await cached.getToken('h2', Date.now()), 'within the bound a remote revocation may not be seen yet');
      t = 1000;
      assert.equal(await cached.getToken('h2', Date.now()), null, 'after the bound it is');

      assert.equal((await cached.getUserById('dddddddddddddddd'))?.disabled, false);
      await cached.setDisabled('dddddddddddddddd', true);
      assert.equal((await cached.getUserById('dddddddddddddddd'))?.disabled, true, 'own writes at once');
    } finally {
      await inner.close();
      await other.close();
      await removeTempDir(dir);
    }
  });
});

describe('TouchThrottle', () => {
  it('lets one touch per client through per interval, and again after forget()', () => {
    let t = 1000;
    const th = new TouchThrottle(100, () => t);
    assert.equal(th.due('u', 'c1'), true);
    assert.equal(th.due('u', 'c1'), false);
    assert.equal(th.due('u', 'c2'), true, 'per client');
    assert.equal(th.due('v', 'c1'), true, 'per user');
    t += 99;
    assert.equal(th.due('u', 'c1'), false);
    t += 1;
    assert.equal(th.due('u', 'c1'), true);
    th.forget('u', 'c1');
    assert.equal(th.due('u', 'c1'), true);
    t -= 50; // a clock that steps back never suppresses touches for long
    assert.equal(th.due('u', 'c1'), true);
  });
});
