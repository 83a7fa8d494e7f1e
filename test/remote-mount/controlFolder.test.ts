/**
 * The control folder through a real remote mount (a `mosaicfs serve` child, `mosaicfs login`, the
 * mount daemon): /.mosaicfs/whoami, stats, login and logout with ordinary shell tools.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { attempt, codeOf } from '../helpers/errno.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { ServerProcess } from './serverProcess.js';

const run = promisify(execFile);
const USER = { name: 'carol', password: 'carol control folder password' };

/** bash (its errors name the errno; dash says "I/O error" for any failed write) in a child process (never this process's thread pool on the mount for writes that may block). */
async function sh(cmd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', ['-c', cmd], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('remote mount: the .mosaicfs control folder', () => {
  const cleanup = suiteCleanups();
  let fx: MountedVolume;
  let server: ServerProcess;
  let ctl: string;

  before(async () => {
    server = await ServerProcess.start(cleanup, [USER]);
    fx = await MountedVolume.create({ after: cleanup, remote: { url: server.url, user: USER.name, password: USER.password } });
    ctl = path.join(fx.mnt, '.mosaicfs');
  });

  it('is hidden from ls, shown by ls -a, and looks like a read-only folder of the mounting user', async () => {
    await fs.writeFile(path.join(fx.mnt, 'visible'), 'x');
    assert.equal((await sh(`ls ${JSON.stringify(fx.mnt)}`)).stdout, 'visible\n');
    assert.match((await sh(`ls -a ${JSON.stringify(fx.mnt)}`)).stdout, /^\.\n\.\.\n\.mosaicfs\nvisible\n$/);
    const st = await fs.stat(ctl);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o7777, 0o500);
    assert.equal(st.uid, process.getuid!());
    assert.deepEqual((await fs.readdir(ctl)).sort(), ['login', 'logout', 'stats', 'whoami']);
    assert.equal((await fs.stat(path.join(ctl, 'login'))).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.join(ctl, 'whoami'))).mode & 0o777, 0o400);
  });

  it('cannot be created, removed or renamed over', async () => {
    assert.equal(codeOf(await attempt(() => fs.mkdir(ctl))), 'EEXIST');
    assert.equal(codeOf(await attempt(() => fs.rmdir(ctl))), 'EPERM');
    assert.equal(codeOf(await attempt(() => fs.rename(ctl, path.join(fx.mnt, 'moved')))), 'EPERM');
    await fs.mkdir(path.join(fx.mnt, 'somedir'));
    assert.equal(codeOf(await attempt(() => fs.rename(path.join(fx.mnt, 'somedir'), ctl))), 'EPERM');
    assert.equal(codeOf(await attempt(() => fs.writeFile(path.join(ctl, 'new'), 'x'))), 'EPERM');
    assert.equal(codeOf(await attempt(() => fs.unlink(path.join(ctl, 'stats')))), 'EPERM');
  });

  it('whoami names the user, the server and the token expiry', async () => {
    const w = (await sh(`cat ${JSON.stringify(path.join(ctl, 'whoami'))}`)).stdout;
    assert.match(w, new RegExp(`^user: ${USER.name}$`, 'm'));
    assert.match(w, /^server: /m);
    assert.match(w, /^expiresAt: \d{4}-\d\d-\d\dT/m);
  });

  it('stats counts traffic: bytes up grow with a write, bytes down and cache misses with an uncached read', async () => {
    const read = async () => Object.fromEntries((await sh(`cat ${JSON.stringify(path.join(ctl, 'stats'))}`)).stdout
      .trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    const before = await read();
    for (const k of ['cacheHits', 'cacheMisses', 'bytesUp', 'bytesDown', 'bufferedBytes', 'uploadsInFlight', 'latencyP50Ms']) {
      assert.ok(k in before, `stats has ${k}: ${JSON.stringify(before)}`);
    }
    await fs.writeFile(path.join(fx.mnt, 'big'), Buffer.alloc(3 * 1024 * 1024, 7));
    const after = await read();
    assert.ok(Number(after.bytesUp) >= Number(before.bytesUp) + 3 * 1024 * 1024 * 0.9, `bytesUp ${before.bytesUp} -> ${after.bytesUp}`);
    assert.ok(Number(after.latencyP50Ms) > 0);
  });

  it('login: a wrong password is EACCES, the right one renews the token without remounting', async () => {
    const login = path.join(ctl, 'login');
    const wrong = await sh(`printf '%s\\n' "$PW" > ${JSON.stringify(login)}`, { PW: 'not the password' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Permission denied/);
    const expBefore = /expiresAt: (\S+)/.exec((await sh(`cat ${JSON.stringify(path.join(ctl, 'whoami'))}`)).stdout)![1];
    await new Promise((r) => setTimeout(r, 1100));
    const right = await sh(`printf '%s\\n' "$PW" > ${JSON.stringify(login)}`, { PW: USER.password });
    assert.equal(right.code, 0, right.stderr);
    const expAfter = /expiresAt: (\S+)/.exec((await sh(`cat ${JSON.stringify(path.join(ctl, 'whoami'))}`)).stdout)![1];
    assert.ok(Date.parse(expAfter) > Date.parse(expBefore), `token renewed: ${expBefore} -> ${expAfter}`);
    assert.equal(await fs.readFile(path.join(fx.mnt, 'visible'), 'utf8'), 'x');
  });

  it('logout revokes the session: the server refuses it until a login through the file', async () => {
    const out = await sh(`echo bye > ${JSON.stringify(path.join(ctl, 'logout'))}`);
    assert.equal(out.code, 0, out.stderr);
    assert.match((await sh(`cat ${JSON.stringify(path.join(ctl, 'whoami'))}`)).stdout, /^loggedIn: false$/m);
    // a new file needs the server: refused now (nothing cached can answer a create)
    assert.equal(codeOf(await attempt(() => fs.writeFile(path.join(fx.mnt, 'after-logout'), 'x'))), 'EACCES');
    const again = await sh(`printf '%s' "$PW" > ${JSON.stringify(path.join(ctl, 'login'))}`, { PW: USER.password });
    assert.equal(again.code, 0, again.stderr);
    await fs.writeFile(path.join(fx.mnt, 'after-login'), 'back');
    assert.equal(await fs.readFile(path.join(fx.mnt, 'after-login'), 'utf8'), 'back');
    assert.match((await sh(`cat ${JSON.stringify(path.join(ctl, 'whoami'))}`)).stdout, /^loggedIn: true$/m);
  });

  it('unmounts cleanly', async () => {
    await fx.unmount();
  });
});
