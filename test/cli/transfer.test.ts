import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, stat, symlink, utimes, writeFile, open } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { suiteCleanups } from '../helpers/hooks.js';
import { cli, json, newVolume, type TestVolume } from './fixture.js';

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of createReadStream(file)) h.update(piece as Buffer);
  return h.digest('hex');
}

/** mtime in whole microseconds: what a local utimes() can set exactly. */
async function mtimeUs(file: string): Promise<bigint> {
  return (await lstat(file, { bigint: true })).mtimeNs / 1000n;
}

describe('put and get', () => {
  const cleanup = suiteCleanups();
  let v: TestVolume;
  before(async () => {
    v = await newVolume(cleanup);
  });

  it('round-trips one file with contents, mode and mtime', async () => {
    const src = v.local('one.txt');
    await writeFile(src, 'hello mosaicfs\n');
    await chmod(src, 0o640);
    await utimes(src, new Date('2001-02-03T04:05:06.789Z'), new Date('2002-03-04T05:06:07.891Z'));
    await cli(0, ['put', src, v.at('/one.txt')]);

    const st = json<{ size: number; perm: string; mtime: { sec: number; nsec: number } }>(
      await cli(0, ['stat', '--json', v.at('/one.txt')]),
    );
    assert.equal(st.size, 15);
    assert.equal(st.perm, '0640');
    const local = await lstat(src, { bigint: true });
    assert.equal(BigInt(st.mtime.sec) * 1_000_000_000n + BigInt(st.mtime.nsec), local.mtimeNs, 'mtime kept to the nanosecond');

    const out = v.local('one.out');
    await cli(0, ['get', v.at('/one.txt'), out]);
    assert.equal(await readFile(out, 'utf8'), 'hello mosaicfs\n');
    assert.equal((await stat(out)).mode & 0o7777, 0o640);
    assert.equal(await mtimeUs(out), await mtimeUs(src));
  });

  it('round-trips a folder tree: contents, modes, mtimes, symlinks, empty and hidden entries', async () => {
    const tree = v.local('tree');
    await mkdir(v.local('tree', 'a', 'b', 'empty'), { recursive: true });
    await writeFile(v.local('tree', 'top.bin'), randomBytes(200_000));
    await writeFile(v.local('tree', 'a', 'b', 'deep.txt'), 'deep\n');
    await writeFile(v.local('tree', '.hidden'), '');
    await symlink('a/b/deep.txt', v.local('tree', 'link'));
    await chmod(v.local('tree', 'a'), 0o750);
    await chmod(v.local('tree', 'top.bin'), 0o600);
    await utimes(v.local('tree', 'a', 'b', 'deep.txt'), new Date('2010-01-01T00:00:00Z'), new Date('2011-06-07T08:09:10.5Z'));
    await utimes(v.local('tree', 'a'), new Date('2012-01-01T00:00:00Z'), new Date('2013-01-01T00:00:00.25Z'));

    await cli(0, ['put', tree, v.at('/')]);
    const ls = await cli(0, ['ls', '-a', v.at('/tree')]);
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean), ['.', '..', '.hidden', 'a', 'link', 'top.bin']);

    const back = v.local('back');
    await cli(0, ['get', v.at('/tree'), back]);
    for (const rel of ['top.bin', 'a/b/deep.txt', '.hidden']) {
      assert.deepEqual(await readFile(v.local('back', rel)), await readFile(v.local('tree', rel)), rel);
    }
    for (const rel of ['a', 'a/b', 'a/b/empty', 'top.bin', 'a/b/deep.txt']) {
      assert.equal((await stat(v.local('back', rel))).mode & 0o7777, (await stat(v.local('tree', rel))).mode & 0o7777, `mode of ${rel}`);
      assert.equal(await mtimeUs(v.local('back', rel)), await mtimeUs(v.local('tree', rel)), `mtime of ${rel}`);
    }
    assert.equal(await readlink(v.local('back', 'link')), 'a/b/deep.txt');
  });

  it('round-trips a 50 MiB file byte-identical, in pieces', async () => {
    const big = v.local('big.bin');
    const fh = await open(big, 'w');
    try {
      for (let i = 0; i < 50; i++) await fh.write(randomBytes(1024 * 1024));
    } finally {
      await fh.close();
    }
    await cli(0, ['put', big, v.at('/big.bin')], { timeoutMs: 180_000 });
    const out = v.local('big.out');
    await cli(0, ['get', v.at('/big.bin'), out], { timeoutMs: 180_000 });
    assert.equal((await stat(out)).size, 50 * 1024 * 1024);
    assert.equal(await sha256(out), await sha256(big));
  });

  it('put over an existing file replaces it; a trailing slash or an existing directory means "into"', async () => {
    const f = v.local('replace.txt');
    await writeFile(f, 'first version, rather long\n');
    await cli(0, ['put', f, v.at('/replace.txt')]);
    await writeFile(f, 'second\n');
    const withBar = await cli(0, ['put', '--progress', f, v.at('/replace.txt')]);
    assert.match(withBar.stderr, /100% \| 7 B \/ 7 B/, 'a progress bar when asked for');
    assert.equal((await cli(0, ['cat', v.at('/replace.txt')])).stdout, 'second\n');

    const quiet = await cli(0, ['put', f, v.at('/newdir/')]);
    assert.equal(quiet.stderr, '', 'no progress bar when stderr is not a terminal');
    assert.equal((await cli(0, ['cat', v.at('/newdir/replace.txt')])).stdout, 'second\n');
    await cli(0, ['put', f, v.local('one.txt'), v.at('/newdir')]);
    assert.deepEqual((await cli(0, ['ls', v.at('/newdir')])).stdout, 'one.txt\nreplace.txt\n');
  });

  it('fails with exit 1 and a clear message for missing sources and a non-directory target', async () => {
    const r = await cli(1, ['put', v.local('does-not-exist'), v.at('/x')]);
    assert.match(r.stderr, /^mosaicfs: put .*does-not-exist: .*ENOENT/m);
    const f = v.local('one.txt');
    const many = await cli(1, ['put', f, f, v.at('/replace.txt')]);
    assert.match(many.stderr, /not a directory/);
    const missing = await cli(1, ['get', v.at('/nope'), v.local('nope')]);
    assert.match(missing.stderr, /^mosaicfs: get .*:\/nope: .*ENOENT/m);
  });
});
