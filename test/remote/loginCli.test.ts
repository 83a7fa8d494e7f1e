import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listSessions } from '../../src/remote/credentials.js';
import { openRemoteSession } from '../../src/remote/session.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { cliEnv, describeRun, runCli } from '../helpers/run.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

describe('mosaicfs login / logout (CLI binary against a real server)', () => {
  let server: TestServer;
  let configDir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    server = await startTestServer();
    configDir = await createTempDir('mosaicfs-config-');
    env = cliEnv({ MOSAICFS_CONFIG_DIR: configDir, MOSAICFS_PASSWORD: undefined });
    await server.addUser('alice', 'alice password');
  });
  after(async () => {
    await server?.stop();
    if (configDir) await removeTempDir(configDir);
  });

  it('logs in with a password file, saves a 0600 session in a 0700 folder, and the session opens', async () => {
    const pwFile = path.join(configDir, 'pw');
    await writeFile(pwFile, 'alice password\n');
    const r = await runCli(['login', server.url, '--user', 'alice', '--password-file', pwFile], { env });
    assert.equal(r.code, 0, describeRun('login', r));
    assert.match(r.stdout, /logged in to http:\/\/127\.0\.0\.1:\d+ as alice/);
    const dir = path.join(configDir, 'sessions');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const files = await readdir(dir);
    assert.equal(files.length, 1);
    assert.match(files[0], /^[0-9a-f]{16}\.json$/);
    assert.equal((await stat(path.join(dir, files[0]))).mode & 0o777, 0o600);
    const [saved] = await listSessions(configDir);
    assert.equal(saved.user, 'alice');
    assert.equal(Buffer.from(saved.volumeKey, 'base64').length, 32);
    const s = await openRemoteSession({ url: server.url, configDir });
    try {
      assert.equal((await s.whoami()).user, 'alice');
    } finally {
      await s.close();
    }
  });

  it('logout revokes the token on the server and deletes the saved session', async () => {
    const [saved] = await listSessions(configDir);
    const r = await runCli(['logout', server.url], { env });
    assert.equal(r.code, 0, describeRun('logout', r));
    assert.deepEqual(await listSessions(configDir), []);
    const res = await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${saved.token}` } });
    assert.equal(res.status, 401, 'the old token must be revoked');
    await assert.rejects(openRemoteSession({ url: server.url, configDir }), /not logged in.*mosaicfs login/);
    const again = await runCli(['logout', server.url], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not logged in/);
  });

  it('an unknown server, a wrong password and throttling give clear errors', async () => {
    const unknown = await runCli(['login', 'http://127.0.0.1:9', '--user', 'alice'], { env: { ...env, MOSAICFS_PASSWORD: 'x' } });
    assert.equal(unknown.code, 1, describeRun('unknown server', unknown));
    assert.match(unknown.stderr, /cannot reach a mosaicfs server at http:\/\/127\.0\.0\.1:9/);

    const noPassword = await runCli(['login', server.url, '--user', 'alice'], { env });
    assert.equal(noPassword.code, 1);
    assert.match(noPassword.stderr, /no password given.*MOSAICFS_PASSWORD/);

    const wrong = await runCli(['login', server.url, '--user', 'alice'], { env: { ...env, MOSAICFS_PASSWORD: 'wrong' } });
    assert.equal(wrong.code, 1, describeRun('wrong password', wrong));
    assert.match(wrong.stderr, /wrong user name or password/);
    assert.deepEqual(await listSessions(configDir), []);

    let throttled = null;
    for (let i = 0; i < 6 && !throttled; i++) {
      const r = await runCli(['login', server.url, '--user', 'alice'], { env: { ...env, MOSAICFS_PASSWORD: 'wrong' } });
      if (/too many failed logins: wait \d+ s/.test(r.stderr)) throttled = r;
    }
    assert.ok(throttled, 'repeated failures end in a throttling message that says how long to wait');
    assert.equal(throttled.code, 1);
  });
});
