import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it, before } from 'node:test';
import { isFsError } from '../../src/errors.js';
import { parseTarget } from '../../src/cli/target.js';
import { openVolumeSession } from '../../src/cli/session.js';
import { ROOT_CTX } from '../../src/vfs/types.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { initTestVolume } from '../helpers/mountFixture.js';
import { isMounted, waitFor } from '../helpers/mountinfo.js';
import { pidsMentioning } from '../helpers/processes.js';
import { cliEnv, describeRun, runCli, TEST_PASSPHRASE, type RunResult } from '../helpers/run.js';
import { makeTempDir } from '../helpers/tmp.js';

/** A message a user can act on: said on stderr, one or a few lines, no stack trace. */
function assertClearFailure(r: RunResult, pattern: RegExp, what: string): void {
  const d = describeRun(what, r);
  assert.ok(!r.timedOut, `${what} hung\n${d}`);
  assert.ok(r.code !== 0 && r.code !== null, `${what} must exit non-zero\n${d}`);
  assert.match(r.stderr, pattern, `${what}: stderr should say what is wrong\n${d}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${what}: no stack trace for a user error\n${d}`);
}

describe('bad input to `mosaicfs mount` and volume paths', () => {
  const cleanup = suiteCleanups();
  let root: string;
  let vol: string;

  before(async () => {
    root = await makeTempDir(cleanup, 'mosaicfs-bad-');
    vol = path.join(root, 'vol');
    await initTestVolume(vol);
  });

  /** A fresh mountpoint; whatever happens, nothing may stay mounted there or keep running for it. */
  async function mountpoint(name: string, create = true): Promise<string> {
    const mnt = path.join(root, name);
    if (create) await fs.mkdir(mnt);
    cleanup(async () => {
      if (await isMounted(mnt)) spawnSync('fusermount', ['-u', '-z', mnt]);
      for (const pid of await pidsMentioning(mnt)) process.kill(pid, 'SIGKILL');
    });
    return mnt;
  }

  async function assertNothingLeft(mnt: string): Promise<void> {
    assert.equal(await isMounted(mnt), false, `${mnt} must not be mounted`);
    const gone = await waitFor(async () => (await pidsMentioning(mnt)).length === 0, 5000);
    assert.ok(gone, `no daemon may be left running for ${mnt}: pids ${await pidsMentioning(mnt)}`);
  }

  async function assertVolumeHealthy(): Promise<void> {
    const r = await runCli(['fsck', vol]);
    assert.equal(r.code, 0, describeRun('fsck afterwards', r));
  }

  async function mount(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
    return runCli(['mount', ...args], { env: env ?? cliEnv(), timeoutMs: 60_000 });
  }

  it('mount on a missing folder', async () => {
    const mnt = await mountpoint('missing', false);
    assertClearFailure(await mount([vol, mnt]), /(not exist|no such|missing|not found|ENOENT)/i, 'mount on a missing folder');
    await assertNothingLeft(mnt);
    await assertVolumeHealthy();
  });

  it('mount on a non-empty folder', async () => {
    const mnt = await mountpoint('full');
    await fs.writeFile(path.join(mnt, 'precious'), 'keep me');
    assertClearFailure(await mount([vol, mnt]), /(not empty|non-?empty)/i, 'mount on a non-empty folder');
    await assertNothingLeft(mnt);
    assert.equal(await fs.readFile(path.join(mnt, 'precious'), 'utf8'), 'keep me');
    await assertVolumeHealthy();
  });

  it('mount on a file', async () => {
    const mnt = await mountpoint('afile', false);
    await fs.writeFile(mnt, 'x');
    assertClearFailure(await mount([vol, mnt]), /(not a directory|not a folder|ENOTDIR)/i, 'mount on a file');
    await assertNothingLeft(mnt);
  });

  it('mount of an uninitialised folder, and of a missing one', async () => {
    const mnt = await mountpoint('m-uninit');
    const empty = path.join(root, 'empty-vol');
    await fs.mkdir(empty);
    assertClearFailure(await mount([empty, mnt]), /(not a mosaicfs volume|mosaicfs init|not initiali[sz]ed)/i, 'mount of an uninitialised folder');
    assertClearFailure(await mount([path.join(root, 'no-such-vol'), mnt]), /(not exist|no such|missing|not found|not a mosaicfs volume)/i, 'mount of a missing volume');
    await assertNothingLeft(mnt);
    assert.deepEqual(await fs.readdir(empty), [], 'mount must not create anything in a folder that is not a volume');
  });

  it('mount of a corrupt volume (garbage mosaicfs.json)', async () => {
    const mnt = await mountpoint('m-corrupt');
    const broken = path.join(root, 'broken-vol');
    await initTestVolume(broken);
    await fs.writeFile(path.join(broken, 'mosaicfs.json'), '{"format": "mosaicfs-volume", garbage \u0000\u00ff');
    assertClearFailure(await mount([broken, mnt]), /(corrupt|invalid|parse|json|mosaicfs\.json)/i, 'mount of a corrupt volume');
    await assertNothingLeft(mnt);
  });

  it('mount with a wrong passphrase (env and --passphrase-file)', async () => {
    const mnt = await mountpoint('m-wrongpass');
    const wrong = cliEnv({ MOSAICFS_PASSPHRASE: TEST_PASSPHRASE + '!' });
    assertClearFailure(await mount([vol, mnt], wrong), /passphrase|key/i, 'mount with a wrong passphrase');
    const file = path.join(root, 'wrong-pass.txt');
    await fs.writeFile(file, 'not it\n');
    const noEnv = { ...cliEnv() };
    delete noEnv.MOSAICFS_PASSPHRASE;
    assertClearFailure(await mount(['--passphrase-file', file, vol, mnt], noEnv), /passphrase|key/i, 'mount with a wrong --passphrase-file');
    await assertNothingLeft(mnt);
    await assertVolumeHealthy();
  });

  it('mount with a cache dir that is a file', async () => {
    const mnt = await mountpoint('m-cachefile');
    const file = path.join(root, 'cache-is-a-file');
    await fs.writeFile(file, 'x');
    assertClearFailure(await mount(['--cache-dir', file, '-o', 'disk_cache_size=100M', vol, mnt]), /cache/i, 'mount with --cache-dir on a file');
    await assertNothingLeft(mnt);
    await assertVolumeHealthy();
  });

  it('mount with a cache dir on a full 64 KiB tmpfs and disk_cache_size=100M', async () => {
    const mnt = await mountpoint('m-cachefull');
    const tiny = path.join(root, 'tiny');
    await fs.mkdir(tiny);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tiny], { encoding: 'utf8' });
    assert.equal(m.status, 0, `mount tmpfs (needs root): ${m.stderr}`);
    cleanup(() => { spawnSync('umount', ['-l', tiny]); });
    // Fill it up.
    await fs.writeFile(path.join(tiny, 'filler'), Buffer.alloc(1024 * 1024)).catch((e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ENOSPC');
    });
    assertClearFailure(await mount(['--cache-dir', tiny, '-o', 'disk_cache_size=100M', vol, mnt]), /cache|space|ENOSPC/i, 'mount with a full cache dir');
    await assertNothingLeft(mnt);
    await assertVolumeHealthy();
  });

  it('a second mount of a mounted volume is refused and the first keeps working', async () => {
    const first = await mountpoint('m-first');
    const second = await mountpoint('m-second');
    const r1 = await mount([vol, first]);
    assert.equal(r1.code, 0, describeRun('first mount', r1));
    try {
      assert.ok(await isMounted(first));
      assertClearFailure(await mount([vol, second]), /(in use|locked|mounted|busy)/i, 'second mount of the same volume');
      await assertNothingLeft(second);
      await fs.writeFile(path.join(first, 'still-works'), 'yes');
      assert.equal(await fs.readFile(path.join(first, 'still-works'), 'utf8'), 'yes');
    } finally {
      const u = await runCli(['umount', first]);
      assert.equal(u.code, 0, describeRun('umount', u));
    }
    await assertNothingLeft(first);
    await assertVolumeHealthy();
  });

  it('`..` in a volume path cannot climb above the volume root', async () => {
    const local = path.join(root, 'payload.txt');
    await fs.writeFile(local, 'payload');
    const before = (await fs.readdir(root)).sort();
    const put = await runCli(['put', local, `${vol}:/../../../escaped.txt`]);
    assert.equal(put.code, 0, describeRun('put to /../../../escaped.txt', put));
    const mk = await runCli(['mkdir', '-p', `${vol}:/a/../../../up/dir`]);
    assert.equal(mk.code, 0, describeRun('mkdir -p /a/../../../up/dir', mk));
    assert.deepEqual((await fs.readdir(root)).sort(), before, 'nothing may appear next to the volume');
    await assert.rejects(fs.access(path.join(path.dirname(root), 'escaped.txt')));
    await assert.rejects(fs.access('/escaped.txt'));

    const cat = await runCli(['cat', `${vol}:/escaped.txt`]);
    assert.equal(cat.code, 0, describeRun('cat /escaped.txt', cat));
    assert.equal(cat.stdout, 'payload');
    const ls = await runCli(['ls', `${vol}:/../..`]);
    assert.equal(ls.code, 0, describeRun('ls /../..', ls));
    assert.match(ls.stdout, /escaped\.txt/);
    assert.match(ls.stdout, /\bup\b/);
    const host = await runCli(['cat', `${vol}:/../../../../../etc/hostname`]);
    assert.notEqual(host.code, 0, describeRun('cat of /../../etc/hostname must look inside the volume only', host));
    assert.equal(host.stdout, '', 'no host file content may come out');
    await assertVolumeHealthy();
  });

  it('a NUL byte in a volume path is refused (parser and VFS; argv itself cannot carry NUL)', async () => {
    // execve(2) ends every argument at the first NUL, so the CLI can only meet one through its own
    // code paths: the VOL:/path parser and the VFS that every verb and the mount go through.
    assert.throws(() => parseTarget(`${vol}:/a\0b`), /NUL/);
    const passFile = path.join(root, 'pass.txt');
    await fs.writeFile(passFile, TEST_PASSPHRASE + '\n');
    const session = await openVolumeSession(vol, { passphraseFile: passFile }, 'test bad-input');
    try {
      for (const [what, op] of [
        ['mkdir', () => session.vfs.mkdir(ROOT_CTX, 1, 'a\0b', 0o755)],
        ['create', () => session.vfs.create(ROOT_CTX, 1, 'a\0b', 0o644, 0)],
        ['symlink', () => session.vfs.symlink(ROOT_CTX, 1, 'a\0b', 'target')],
        ['lookup', () => session.vfs.lookup(ROOT_CTX, 1, 'a\0b')],
      ] as const) {
        await assert.rejects(op(), (e: unknown) => isFsError(e, 'EINVAL'), `${what} of a name with NUL must fail with EINVAL`);
      }
      await assert.rejects(session.vfs.resolve(ROOT_CTX, '/a\0b'), (e: unknown) => isFsError(e, 'EINVAL') || isFsError(e, 'ENOENT'));
    } finally {
      await session.close();
    }
    await assertVolumeHealthy();
  });
});
