import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deriveLoginKeys, newLoginSalt } from '../../src/auth/passwordKeys.js';
import { unwrapKeyWithKek, wrapKeyWithKek } from '../../src/crypto/keys.js';
import { ROUTES, type LoginResponse } from '../../src/remote/protocol.js';
import { setUserDisabled } from '../../src/server/admin.js';
import { startTestServer, TEST_LOGIN_KDF, type TestServer } from '../helpers/serverFixture.js';
import { call, login, Session } from './apiClient.js';

describe('server: users, logins and tokens', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ tokenTtlMs: 60_000 });
    await srv.addUser('alice', 'alice password');
    await srv.addUser('carol', 'carol password');
  });
  after(() => srv.stop());

  it('health answers without auth', async () => {
    const r = await call(srv.url, 'GET', ROUTES.health);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true, version: 1 });
  });

  it('login returns a token and the wrapped volume key, which only the password unwraps', async () => {
    const r = await login(srv.url, 'alice', 'alice password');
    assert.equal(r.status, 200);
    const body = r.body as LoginResponse;
    assert.match(body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(body.expiresAt > Date.now() + 50_000 && body.expiresAt <= Date.now() + 60_000);
    const pre = await call(srv.url, 'POST', ROUTES.prelogin, { json: { user: 'alice' } });
    const keys = await deriveLoginKeys('alice password', Buffer.from(pre.body.salt, 'base64'), pre.body.kdf);
    const volumeKey = unwrapKeyWithKek(body.volume.wrappedKey, keys.kek, body.volume.volumeId);
    assert.equal(volumeKey.length, 32);
    const who = await call(srv.url, 'GET', ROUTES.whoami, { token: body.token });
    assert.equal(who.status, 200);
    assert.equal(who.body.user, 'alice');
  });

  it('prelogin of an unknown user is stable and looks like a real one', async () => {
    const a = await call(srv.url, 'POST', ROUTES.prelogin, { json: { user: 'nobody' } });
    const b = await call(srv.url, 'POST', ROUTES.prelogin, { json: { user: 'nobody' } });
    const c = await call(srv.url, 'POST', ROUTES.prelogin, { json: { user: 'nobody2' } });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, b.body);
    assert.notEqual(a.body.salt, c.body.salt);
    assert.equal(Buffer.from(a.body.salt, 'base64').length, 16);
  });

  it('a wrong password and an unknown user both get 401', async () => {
    assert.equal((await login(srv.url, 'carol', 'wrong')).status, 401);
    assert.equal((await login(srv.url, 'nobody-at-all', 'x')).status, 401);
  });

  it('logout revokes the token; forged and malformed tokens get 401', async () => {
    const s = await Session.open(srv.url, 'alice', 'alice password');
    assert.equal((await s.req('GET', ROUTES.whoami)).status, 200);
    assert.equal((await s.req('POST', ROUTES.logout)).status, 204);
    const after = await s.req('GET', ROUTES.whoami);
    assert.equal(after.status, 401);
    assert.equal(after.body.error.code, 'EAUTH');
    const forged = new Session(srv.url, Buffer.alloc(32, 7).toString('base64url'));
    assert.equal((await forged.req('POST', ROUTES.meta, { json: { op: 'getattr', args: [1] } })).status, 401);
    assert.equal((await call(srv.url, 'GET', ROUTES.whoami, { headers: { authorization: 'Basic abc' } })).status, 401);
    assert.equal((await call(srv.url, 'GET', ROUTES.whoami)).status, 401);
  });

  it('an expired token gets 401', async () => {
    const short = await startTestServer({ tokenTtlMs: 300 });
    try {
      await short.addUser('dave', 'dave password');
      const s = await Session.open(short.url, 'dave', 'dave password');
      assert.equal((await s.req('GET', ROUTES.whoami)).status, 200);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await s.req('GET', ROUTES.whoami)).status, 401);
    } finally {
      await short.stop();
    }
  });

  it('a disabled user gets 403 at login and on existing sessions', async () => {
    await srv.addUser('erin', 'erin password');
    const s = await Session.open(srv.url, 'erin', 'erin password');
    const user = (await srv.server.backend.accounts.getUserByName('erin'))!;
    await srv.server.backend.accounts.setDisabled(user.id, true); // keep the token: the request path must refuse it
    assert.equal((await s.req('GET', ROUTES.whoami)).status, 403);
    assert.equal((await login(srv.url, 'erin', 'erin password')).status, 403);
    await setUserDisabled(srv.server.backend.accounts, 'erin', false);
    assert.equal((await login(srv.url, 'erin', 'erin password')).status, 200);
  });

  it('a password change re-wraps the key, keeps the caller, revokes other tokens', async () => {
    await srv.addUser('frank', 'old password');
    const a = await Session.open(srv.url, 'frank', 'old password');
    const b = await Session.open(srv.url, 'frank', 'old password');
    const loginBody = (await login(srv.url, 'frank', 'old password')).body as LoginResponse;
    const pre = await call(srv.url, 'POST', ROUTES.prelogin, { json: { user: 'frank' } });
    const oldKeys = await deriveLoginKeys('old password', Buffer.from(pre.body.salt, 'base64'), pre.body.kdf);
    const volumeKey = unwrapKeyWithKek(loginBody.volume.wrappedKey, oldKeys.kek, loginBody.volume.volumeId);
    const salt = newLoginSalt();
    const keys = await deriveLoginKeys('new password', salt, TEST_LOGIN_KDF);
    const r = await a.req('POST', ROUTES.password, {
      json: {
        salt: salt.toString('base64'), kdf: TEST_LOGIN_KDF, authKey: keys.authKey.toString('base64'),
        wrappedKey: wrapKeyWithKek(volumeKey, keys.kek, loginBody.volume.volumeId),
      },
    });
    assert.equal(r.status, 204, JSON.stringify(r.body));
    assert.equal((await a.req('GET', ROUTES.whoami)).status, 200);
    assert.equal((await b.req('GET', ROUTES.whoami)).status, 401);
    assert.equal((await login(srv.url, 'frank', 'old password')).status, 401);
    const again = await login(srv.url, 'frank', 'new password');
    assert.equal(again.status, 200);
    assert.deepEqual(unwrapKeyWithKek(again.body.volume.wrappedKey, keys.kek, again.body.volume.volumeId), volumeKey);
    // a malformed change is refused and changes nothing
    assert.equal((await a.req('POST', ROUTES.password, { json: { salt: 'x' } })).status, 400);
    assert.equal((await login(srv.url, 'frank', 'new password')).status, 200);
  });
});

describe('server: failed logins are slowed down', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
    await srv.addUser('gina', 'gina password');
  });
  after(() => srv.stop());

  it('after 3 failures: 429 with a growing Retry-After; a success resets', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login(srv.url, 'gina', `wrong ${i}`)).status, 401);
    const t1 = await login(srv.url, 'gina', 'gina password'); // even the right password waits
    assert.equal(t1.status, 429);
    assert.equal(t1.body.error.code, 'ETHROTTLED');
    assert.equal(t1.headers.get('retry-after'), '1');
    await new Promise((r) => setTimeout(r, 1050));
    assert.equal((await login(srv.url, 'gina', 'wrong 4')).status, 401);
    const t2 = await login(srv.url, 'gina', 'wrong 5');
    assert.equal(t2.status, 429);
    assert.equal(t2.headers.get('retry-after'), '2');
    await new Promise((r) => setTimeout(r, 2050));
    assert.equal((await login(srv.url, 'gina', 'gina password')).status, 200);
    // reset: three fresh failures are allowed again before throttling
    for (let i = 0; i < 3; i++) assert.equal((await login(srv.url, 'gina', `again ${i}`)).status, 401);
    assert.equal((await login(srv.url, 'gina', 'x')).status, 429);
  });
});
