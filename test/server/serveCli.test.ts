import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { ROUTES } from '../../src/remote/protocol.js';
import { trackChild } from '../helpers/cleanup.js';
import { cliBin } from '../helpers/paths.js';
import { cliEnv, describeRun, runCli } from '../helpers/run.js';
import { makeTempDir } from '../helpers/tmp.js';
import { call, login } from './apiClient.js';

describe('mosaicfs serve and mosaicfs user (the real binary)', () => {
  it('user add/list/disable/enable/delete, serve prints its URL, logins work, SIGTERM stops it cleanly', async () => {
    const dataDir = await makeTempDir(after, 'mosaicfs-serve-');
    const env = cliEnv({ MOSAICFS_KDF_N: '1024', MOSAICFS_PASSWORD: 'alice cli pw' });
    const add = await runCli(['user', 'add', 'alice', '--data', dataDir, '--block-size', '1M', '--uid', '1234', '--gid', '5678'], { env });
    assert.equal(add.code, 0, describeRun('user add', add));
    const dup = await runCli(['user', 'add', 'alice', '--data', dataDir], { env });
    assert.equal(dup.code, 1, describeRun('user add again', dup));
    const badName = await runCli(['user', 'add', '../evil', '--data', dataDir], { env });
    assert.equal(badName.code, 2, describeRun('user add ../evil', badName));
    const noPw = await runCli(['user', 'add', 'bob', '--data', dataDir], { env: cliEnv({ MOSAICFS_KDF_N: '1024' }) });
    assert.equal(noPw.code, 2, describeRun('user add without a password', noPw));
    const list = await runCli(['user', 'list', '--data', dataDir, '--json'], { env });
    assert.equal(list.code, 0, describeRun('user list', list));
    assert.deepEqual(JSON.parse(list.stdout).map((u: { name: string; blockSize: number }) => [u.name, u.blockSize]), [['alice', 1024 * 1024]]);

    const child = spawn(process.execPath, [cliBin(), 'serve', '--data', dataDir, '--listen', '127.0.0.1:0'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = once(child, 'exit');
    try {
      const deadline = Date.now() + 30_000;
      while (!/listening on (http:\/\/\S+)/.test(stdout)) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not start:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!;
      assert.equal((await call(url, 'GET', ROUTES.health)).status, 200);
      const ok = await login(url, 'alice', 'alice cli pw');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.volume.blockSize, 1024 * 1024);
      const root = await call(url, 'POST', ROUTES.meta, {
        token: ok.body.token, client: '00000000-0000-4000-8000-000000000001', json: { op: 'getattr', args: [1] },
      });
      assert.equal(root.status, 200);
      assert.equal(root.body.result.uid, 1234);
      assert.equal(root.body.result.gid, 5678);

      // admin commands work while the server runs
      const dis = await runCli(['user', 'disable', 'alice', '--data', dataDir], { env });
      assert.equal(dis.code, 0, describeRun('user disable', dis));
      assert.equal((await call(url, 'GET', ROUTES.whoami, { token: ok.body.token })).status, 401, 'disable revokes tokens');
      assert.equal((await login(url, 'alice', 'alice cli pw')).status, 403);
      assert.equal((await runCli(['user', 'enable', 'alice', '--data', dataDir], { env })).code, 0);
      assert.equal((await login(url, 'alice', 'alice cli pw')).status, 200);
      assert.equal((await login(url, 'alice', 'wrong')).status, 401);
      const passwd = await runCli(['user', 'passwd', 'alice', '--data', dataDir],
        { env: { ...env, MOSAICFS_OLD_PASSWORD: 'alice cli pw', MOSAICFS_PASSWORD: 'new pw' } });
      assert.equal(passwd.code, 0, describeRun('user passwd', passwd));
      assert.equal((await login(url, 'alice', 'new pw')).status, 200);

      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, `serve exit ${code}\n${stderr.slice(-2000)}`);
      assert.match(stdout, /stopped/);
      assert.doesNotMatch(stderr, /Bearer|authKey/i, 'tokens and keys are never logged');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    const del = await runCli(['user', 'delete', 'alice', '--data', dataDir], { env });
    assert.equal(del.code, 2, 'needs --yes');
    assert.equal((await runCli(['user', 'delete', 'alice', '--data', dataDir, '--yes'], { env })).code, 0);
    const empty = await runCli(['user', 'list', '--data', dataDir, '--json'], { env });
    assert.deepEqual(JSON.parse(empty.stdout), []);
  });
});
