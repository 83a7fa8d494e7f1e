/**
 * Every refusal of `mosaicfs mount`: a non-zero exit, one clear message, nothing left mounted,
 * no daemon left running, and the volume still usable afterwards.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { isMountedSync, lockPid, pidAlive, Sandbox } from './harness.js';

const sb = new Sandbox();
process.on('exit', () => sb.cleanup());

describe('mosaicfs mount refuses bad input with a clear message', { timeout: 300_000 }, () => {
  let vol: string;
  let mnt: string;

  before(async () => {
    vol = await sb.volume();
    mnt = await sb.dir('mnt');
  });
  after(() => sb.cleanup());

  async function refused(args: string[], message: RegExp, code = 1, env?: NodeJS.ProcessEnv): Promise<void> {
    const r = await sb.run(args, { env });
    assert.equal(r.code, code, `exit code of mosaicfs ${args.join(' ')}; stderr: ${r.stderr}`);
    assert.match(r.stderr, /^mosaicfs: /);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.equal(isMountedSync(mnt), false, 'nothing is mounted');
    assert.equal(lockPid(vol), null, 'the volume is not left locked');
  }

  it('a missing mountpoint', async () => {
    await refused(['mount', vol, sb.p('nope')], /mountpoint .*nope does not exist/);
  });

  it('a mountpoint that is a file', async () => {
    await fs.writeFile(sb.p('file'), 'x');
    await refused(['mount', vol, sb.p('file')], /is not a directory/);
  });

  it('a non-empty mountpoint (allowed with -o nonempty)', async () => {
    const full = await sb.dir('full');
    await fs.writeFile(sb.p('full', 'x'), 'x');
    await refused(['mount', vol, full], /is not empty.*-o nonempty/);
    sb.track(full);
    const ok = await sb.run(['mount', vol, full, '-o', 'nonempty']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(isMountedSync(full));
    assert.deepEqual(await fs.readdir(full), [], 'the volume hides the folder contents');
    const un = await sb.run(['umount', full]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(await fs.readdir(full), ['x']);
  });

  it('a missing volume, an uninitialised folder, a corrupt volume', async () => {
    await refused(['mount', sb.p('missing'), mnt], /missing does not exist/);
    const plain = await sb.dir('plain');
    await refused(['mount', plain, mnt], /is not a mosaicfs volume \(no mosaicfs\.json\)/);
    const bad = await sb.dir('bad');
    await fs.writeFile(sb.p('bad', 'mosaicfs.json'), '{ this is not json');
    await refused(['mount', bad, mnt], /mosaicfs\.json is corrupt/);
  });

  it('a wrong passphrase (reported by the background daemon through its parent)', async () => {
    await refused(['mount', vol, mnt], /wrong passphrase/, 1, { ...sb.env, MOSAICFS_PASSPHRASE: 'not the passphrase' });
    await refused(['mount', '-f', vol, mnt], /wrong passphrase/, 1, { ...sb.env, MOSAICFS_PASSPHRASE: 'not the passphrase' });
  });

  it('a server URL', async () => {
    // Nothing is contacted: a server is named without a path.
    await refused(['mount', 'https://example.com/vol', mnt], /without a path/);
  });

  it('an unknown -o option is a usage error (exit 2)', async () => {
    await refused(['mount', vol, mnt, '-o', 'ro,frobnicate'], /unknown mount option "frobnicate"/, 2);
  });

  it('an unusable cache dir (a file) with a disk cache', async () => {
    await fs.writeFile(sb.p('cachefile'), 'x');
    await refused(['mount', vol, mnt, '--cache-dir', sb.p('cachefile'), '-o', 'disk_cache_size=1M'], /cache folder .* cannot be created or written/);
  });

  it('a volume locked by another mount, and a mountpoint that is already mounted', async () => {
    const r = await sb.run(['mount', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    const pid = lockPid(vol)!;
    try {
      const other = await sb.dir('other');
      const busy = await sb.run(['mount', vol, other]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, new RegExp(`in use by pid ${pid} \\(mount ${mnt}\\)`));
      assert.equal(isMountedSync(other), false);

      const vol2 = await sb.volume('vol2');
      const twice = await sb.run(['mount', vol2, mnt]);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /is already a mount point/);
      assert.equal(lockPid(vol2), null);
    } finally {
      const un = await sb.run(['umount', mnt]);
      assert.equal(un.code, 0, un.stderr);
    }
    assert.equal(pidAlive(pid), false);
  });

  it('the volume still opens and is clean afterwards', async () => {
    const r = await sb.run(['fsck', vol]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
});
