/**
 * `mosaicfs mount -o binding=kernel` (the default): the daemon served by our own FUSE binding
 * (src/fuse/kernel/) rather than fuse-native. What only this binding can do is checked through the real CLI: the
 * caller's identity owns new files, nanosecond times, one inode for hard links, RENAME_EXCHANGE,
 * and that `mosaicfs umount` still waits for the daemon.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMountedSync, lockPid, Sandbox } from './harness.js';

const sb = new Sandbox();
process.on('exit', () => sb.cleanup());

/** renameat2(AT_FDCWD, a, AT_FDCWD, b, flags) through python3's ctypes (x86_64 syscall 316). */
function renameat2(a: string, b: string, flags: number): number {
  const py = `import ctypes,sys\nlibc=ctypes.CDLL(None,use_errno=True)\nr=libc.syscall(316,-100,sys.argv[1].encode(),-100,sys.argv[2].encode(),int(sys.argv[3]))\nprint(0 if r==0 else ctypes.get_errno())`;
  return Number(execFileSync('python3', ['-c', py, a, b, String(flags)], { encoding: 'utf8' }).trim());
}

describe('mount -o binding=kernel (our own FUSE binding)', { timeout: 180_000 }, () => {
  let vol: string;
  let mnt: string;

  before(async () => {
    vol = await sb.volume();
    mnt = await sb.dir('mnt');
    await fs.chmod(sb.root, 0o755); // the second user must be able to reach the mount point
    const r = await sb.run(['mount', '-o', 'binding=kernel,allow_other', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(isMountedSync(mnt));
    await fs.chmod(mnt, 0o1777);
  });
  after(() => sb.cleanup());

  it('a file created by another user belongs to that user', () => {
    const f = path.join(mnt, 'owned-by-1000');
    const r = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'sh', '-c', `echo hi > '${f}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = execFileSync('stat', ['-c', '%u:%g', f], { encoding: 'utf8' }).trim();
    assert.equal(out, '1000:1000');
  });

  it('keeps nanoseconds, and touch -a leaves mtime alone', () => {
    const f = path.join(mnt, 'ns');
    execFileSync('touch', ['-d', '2001-02-03 04:05:06.123456789', f]);
    assert.equal(execFileSync('stat', ['-c', '%y', f], { encoding: 'utf8' }).trim(), '2001-02-03 04:05:06.123456789 +0000');
    execFileSync('touch', ['-a', '-d', '1999-01-01 00:00:00.000000001', f]);
    assert.equal(execFileSync('stat', ['-c', '%x|%y', f], { encoding: 'utf8' }).trim(),
      '1999-01-01 00:00:00.000000001 +0000|2001-02-03 04:05:06.123456789 +0000');
  });

  it('hard links share one inode number and link count at once', async () => {
    const a = path.join(mnt, 'link-a');
    await fs.writeFile(a, 'one');
    await fs.link(a, path.join(mnt, 'link-b'));
    await fs.appendFile(path.join(mnt, 'link-b'), 'two');
    const [sa, sb2] = [await fs.stat(a), await fs.stat(path.join(mnt, 'link-b'))];
    assert.equal(sa.ino, sb2.ino);
    assert.equal(sa.nlink, 2);
    assert.equal(await fs.readFile(a, 'utf8'), 'onetwo');
  });

  it('renameat2 RENAME_EXCHANGE swaps two files; RENAME_NOREPLACE refuses an existing target', async () => {
    await fs.writeFile(path.join(mnt, 'x'), 'X');
    await fs.writeFile(path.join(mnt, 'y'), 'Y');
    assert.equal(renameat2(path.join(mnt, 'x'), path.join(mnt, 'y'), 2), 0);
    assert.equal(await fs.readFile(path.join(mnt, 'x'), 'utf8'), 'Y');
    assert.equal(await fs.readFile(path.join(mnt, 'y'), 'utf8'), 'X');
    assert.equal(renameat2(path.join(mnt, 'x'), path.join(mnt, 'y'), 1), 17 /* EEXIST */);
  });

  it('`mosaicfs umount` waits for the daemon; the data is there after remounting with fuse-native', async () => {
    const pid = lockPid(vol);
    assert.ok(pid);
    const r = await sb.run(['umount', mnt]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!isMountedSync(mnt));
    assert.equal(lockPid(vol), null, 'the daemon released the volume');
    const again = await sb.run(['mount', '-o', 'binding=fuse-native', vol, mnt]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await fs.readFile(path.join(mnt, 'link-a'), 'utf8'), 'onetwo');

    // fuse-native's utimens, as patched by scripts/patch-fuse-native.mjs: mtime is not lost, and a
    // one-sided change (UTIME_OMIT for the other time) reaches us.
    const f = path.join(mnt, 'fn-times');
    await fs.writeFile(f, 'x');
    await fs.utimes(f, new Date('2001-02-03T04:05:06.750Z'), new Date('2011-12-13T14:15:16.250Z'));
    let st = await fs.stat(f);
    assert.equal(st.mtimeMs, Date.parse('2011-12-13T14:15:16.250Z'), 'mtime as set, not the atime');
    execFileSync('touch', ['-a', '-d', '1999-01-01T00:00:00.5Z', f]);
    st = await fs.stat(f);
    assert.equal(st.atimeMs, Date.parse('1999-01-01T00:00:00.5Z'));
    assert.equal(st.mtimeMs, Date.parse('2011-12-13T14:15:16.250Z'), 'touch -a leaves mtime alone on fuse-native too');
    assert.equal((await sb.run(['umount', mnt])).code, 0);
  });
});
