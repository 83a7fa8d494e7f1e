import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { suiteCleanups } from '../helpers/hooks.js';
import { cliEnv } from '../helpers/run.js';
import { cli, newVolume, type TestVolume } from './fixture.js';

describe('exit codes and messages', () => {
  const cleanup = suiteCleanups();
  let v: TestVolume;
  before(async () => {
    v = await newVolume(cleanup);
  });

  it('--help and --version exit 0; every verb has --help', async () => {
    const version = await cli(0, ['--version']);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = await cli(0, ['--help']);
    for (const verb of ['init', 'put', 'get', 'ls', 'cat', 'stat', 'mkdir', 'mv', 'rm', 'ln', 'df', 'fsck', 'gc', 'mount', 'umount']) {
      assert.match(help.stdout, new RegExp(`^  ${verb}\\b`, 'm'), `${verb} is listed`);
    }
    const putHelp = await cli(0, ['put', '--help']);
    assert.match(putHelp.stdout, /Usage: mosaicfs put \[options\] <local\.\.\.> <VOL:\/dest>/);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ['no command', [], /Usage: mosaicfs/],
    ['an unknown command', ['frobnicate'], /^mosaicfs: unknown command 'frobnicate'/m],
    ['an unknown option', ['ls', '--frob', 'x:/'], /^mosaicfs: unknown option '--frob'/m],
    ['a missing operand', ['cat'], /^mosaicfs: missing required argument/m],
    ['too many operands', ['df', 'a', 'b'], /^mosaicfs: too many arguments/m],
    ['put with one operand', ['put', 'only'], /needs at least one source and a destination/],
    ['put to a local destination', ['put', 'a', 'b'], /the destination must be a volume path/],
    ['get to a volume destination', ['get', 'v:/a', 'v:/b'], /the destination of get must be a local path/],
    ['ls of a local path', ['ls', 'just-local'], /expected a volume path like/],
    ['operands in two volumes', ['cat', 'a:/x', 'b:/y'], /must be in the same volume/],
    ['a server URL', ['ls', 'mosaic://host/vol:/x'], /server URLs are not available yet/],
    ['a bad block size', ['init', 'never-created', '--block-size', 'huge'], /invalid size/],
    ['a block size out of range', ['init', 'never-created', '--block-size', '1K'], /invalid block size/],
    ['a bad mkdir mode', ['mkdir', '-m', '999', 'v:/x'], /invalid mode/],
    ['a bad gc duration', ['gc', '--leaked-older-than', 'soon', 'v'], /invalid duration/],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`exit 2 for ${what}`, async () => {
      const r = await cli(2, args, { cwd: os.tmpdir() });
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('runtime failures exit 1 with one line: missing volume, wrong passphrase, volume mounted elsewhere', async () => {
    const missing = await cli(1, ['ls', `${v.local('no-such-vol')}:/`]);
    assert.match(missing.stderr, /^mosaicfs: .*does not exist; create a volume with `mosaicfs init/m);
    assert.equal(missing.stderr.trim().split('\n').length, 1);

    const wrong = await cli(1, ['ls', v.at('/')], { env: cliEnv({ MOSAICFS_PASSPHRASE: 'not the passphrase' }) });
    assert.match(wrong.stderr, /^mosaicfs: wrong passphrase/m);

    // A live mount holds the volume's lock with owner "mount <mountpoint>"; this test process stands in for it.
    const lock = { pid: process.pid, host: os.hostname(), owner: 'mount /x/mnt', since: new Date().toISOString(), nonce: 'test' };
    await writeFile(path.join(v.vol, 'lock'), JSON.stringify(lock) + '\n');
    try {
      const busy = await cli(1, ['put', v.local('nothing'), v.at('/')]);
      assert.ok(busy.stderr.includes(`mosaicfs: volume ${v.vol} is mounted at /x/mnt; use the mount, or unmount first`), busy.stderr);
    } finally {
      await rm(path.join(v.vol, 'lock'), { force: true });
    }
  });

  it('MOSAICFS_DEBUG=1 adds the stack trace', async () => {
    const r = await cli(1, ['ls', v.at('/nope')], { env: cliEnv({ MOSAICFS_DEBUG: '1' }) });
    assert.match(r.stderr, /\n\s+at /);
  });
});
