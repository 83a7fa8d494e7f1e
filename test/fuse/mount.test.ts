/**
 * Real mounts through the kernel: background and foreground mounts, file operations, a 64 MiB
 * round trip, `mosaicfs umount` waiting for the daemon, persistence across remounts, `fusermount -u`
 * from outside and SIGTERM both making the daemon flush and exit by itself.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCommand, isMountedSync, lockPid, pidAlive, Sandbox, waitFor } from './harness.js';

const sb = new Sandbox();
process.on('exit', () => sb.cleanup());

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.open(file, 'r');
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}

describe('mosaicfs mount (real FUSE mounts)', { timeout: 300_000 }, () => {
  let vol: string;
  let mnt: string;
  let bigHash: string;

  before(async () => {
    vol = await sb.volume();
    mnt = await sb.dir('mnt');
  });
  after(() => sb.cleanup());

  it('mounts in the background: exit 0, no output, the mount is live', async () => {
    const r = await sb.run(['mount', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.ok(isMountedSync(mnt), 'mountpoint is in /proc/self/mountinfo');
    const line = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === mnt)!;
    assert.match(line, / - fuse\.mosaicfs mosaicfs /);
    // default_permissions auto: a mount by root without allow_other leaves the checks to the VFS.
    if (process.getuid?.() === 0) assert.doesNotMatch(line, /default_permissions/);
    else assert.match(line, /default_permissions/);
    const pid = lockPid(vol);
    assert.ok(pid && pidAlive(pid), 'the daemon holds the volume lock');
  });

  it('basic file operations go through the kernel', async () => {
    await fs.writeFile(path.join(mnt, 'hello.txt'), 'hello, world\n');
    assert.equal(await fs.readFile(path.join(mnt, 'hello.txt'), 'utf8'), 'hello, world\n');

    await fs.mkdir(path.join(mnt, 'dir/sub'), { recursive: true });
    await fs.writeFile(path.join(mnt, 'dir/sub/f'), Buffer.alloc(10_000, 7));
    assert.deepEqual((await fs.readdir(path.join(mnt, 'dir'))).sort(), ['sub']);
    assert.deepEqual((await fs.readdir(mnt)).sort(), ['dir', 'hello.txt']);

    await fs.rename(path.join(mnt, 'dir/sub/f'), path.join(mnt, 'moved'));
    await assert.rejects(fs.stat(path.join(mnt, 'dir/sub/f')), { code: 'ENOENT' });
    assert.equal((await fs.stat(path.join(mnt, 'moved'))).size, 10_000);
    await fs.rename(path.join(mnt, 'dir'), path.join(mnt, 'dir2'));
    assert.deepEqual(await fs.readdir(path.join(mnt, 'dir2')), ['sub']);
    await assert.rejects(fs.readdir(path.join(mnt, 'dir')), { code: 'ENOENT' });
    // The adapter's dentry cache must not resolve old paths after a rename.
    await fs.mkdir(path.join(mnt, 'dir'));
    await assert.rejects(fs.stat(path.join(mnt, 'dir/sub')), { code: 'ENOENT' });
    assert.ok((await fs.stat(path.join(mnt, 'dir2/sub'))).isDirectory());
    await fs.rmdir(path.join(mnt, 'dir'));

    await fs.link(path.join(mnt, 'hello.txt'), path.join(mnt, 'dir2/hard'));
    const a = await fs.stat(path.join(mnt, 'hello.txt'));
    const b = await fs.stat(path.join(mnt, 'dir2/hard'));
    assert.equal(a.ino, b.ino, 'hard links share the inode number (use_ino)');
    assert.equal(b.nlink, 2);

    await fs.symlink('hello.txt', path.join(mnt, 'link'));
    assert.equal(await fs.readlink(path.join(mnt, 'link')), 'hello.txt');
    assert.equal(await fs.readFile(path.join(mnt, 'link'), 'utf8'), 'hello, world\n');
    assert.ok((await fs.lstat(path.join(mnt, 'link'))).isSymbolicLink());

    await fs.chmod(path.join(mnt, 'moved'), 0o640);
    assert.equal((await fs.stat(path.join(mnt, 'moved'))).mode & 0o7777, 0o640);

    await fs.truncate(path.join(mnt, 'moved'), 100);
    assert.equal((await fs.stat(path.join(mnt, 'moved'))).size, 100);
    const fh = await fs.open(path.join(mnt, 'moved'), 'r+');
    await fh.write(Buffer.from('abc'), 0, 3, 200); // sparse gap 100..200
    await fh.close();
    const moved = await fs.readFile(path.join(mnt, 'moved'));
    assert.equal(moved.length, 203);
    assert.ok(moved.subarray(0, 100).every((x) => x === 7));
    assert.ok(moved.subarray(100, 200).every((x) => x === 0));
    assert.equal(moved.subarray(200).toString(), 'abc');

    const when = new Date('2001-02-03T04:05:06.789Z');
    await fs.utimes(path.join(mnt, 'hello.txt'), when, when);
    assert.equal((await fs.stat(path.join(mnt, 'hello.txt'))).mtimeMs, when.getTime());

    await fs.unlink(path.join(mnt, 'link'));
    await fs.rmdir(path.join(mnt, 'dir2/sub'));
    await assert.rejects(fs.rmdir(path.join(mnt, 'dir2')), { code: 'ENOTEMPTY' });
    await assert.rejects(fs.mkdir(path.join(mnt, 'hello.txt')), { code: 'EEXIST' });

    const st = await fs.statfs(mnt);
    assert.ok(st.blocks > 0 && st.bsize > 0, 'statfs reports real figures');
  });

  it('utimens keeps atime and mtime apart, and honours UTIME_OMIT / UTIME_NOW', async () => {
    const f = path.join(mnt, 'times.txt');
    await fs.writeFile(f, 'x');
    const atime = new Date('2001-02-03T04:05:06.750Z'); // binary-exact fractions: utimes goes through a double
    const mtime = new Date('2011-12-13T14:15:16.250Z');
    await fs.utimes(f, atime, mtime);
    let st = await fs.stat(f);
    assert.equal(st.atimeMs, atime.getTime(), 'atime as set');
    assert.equal(st.mtimeMs, mtime.getTime(), 'mtime as set, not the atime');

    // touch -a / -m change one time and pass UTIME_OMIT for the other.
    execFileSync('touch', ['-a', '-d', '1999-01-01T00:00:00.5Z', f]);
    st = await fs.stat(f);
    assert.equal(st.atimeMs, Date.parse('1999-01-01T00:00:00.5Z'));
    assert.equal(st.mtimeMs, mtime.getTime(), 'touch -a leaves mtime alone');
    execFileSync('touch', ['-m', '-d', '1998-01-01T00:00:00Z', f]);
    st = await fs.stat(f);
    assert.equal(st.atimeMs, Date.parse('1999-01-01T00:00:00.5Z'), 'touch -m leaves atime alone');
    assert.equal(st.mtimeMs, Date.parse('1998-01-01T00:00:00Z'));

    // plain touch is UTIME_NOW for both.
    const before = Date.now();
    execFileSync('touch', [f]);
    st = await fs.stat(f);
    assert.ok(st.mtimeMs >= before - 1000 && st.atimeMs >= before - 1000, 'touch sets both to now');
  });

  it('extended attributes work through the kernel', async (t) => {
    const file = path.join(mnt, 'hello.txt');
    if (hasCommand('setfattr') && hasCommand('getfattr')) {
      execFileSync('setfattr', ['-n', 'user.color', '-v', 'blue', file]);
      assert.match(execFileSync('getfattr', ['-n', 'user.color', '--only-values', file], { encoding: 'utf8' }), /^blue/);
      assert.match(execFileSync('getfattr', ['-d', file], { encoding: 'utf8' }), /user\.color="blue"/);
      execFileSync('setfattr', ['-x', 'user.color', file]);
      assert.notEqual(spawnSync('getfattr', ['-n', 'user.color', file]).status, 0);
      return;
    }
    if (!hasCommand('python3')) return t.skip('neither setfattr/getfattr nor python3 is installed: xattrs not tested');
    // Node has no xattr API: use python's os.*xattr (the same syscalls).
    const script = `
import os, sys, errno
f = sys.argv[1]
os.setxattr(f, 'user.color', b'blue')
os.setxattr(f, 'user.big', b'x' * 5000)
assert os.getxattr(f, 'user.color') == b'blue', 'get'
assert sorted(os.listxattr(f)) == ['user.big', 'user.color'], os.listxattr(f)
assert os.getxattr(f, 'user.big') == b'x' * 5000
try:
    os.setxattr(f, 'user.color', b'red', os.XATTR_CREATE); raise SystemExit('XATTR_CREATE on existing must fail')
except OSError as e:
    assert e.errno == errno.EEXIST, e
os.removexattr(f, 'user.color')
try:
    os.getxattr(f, 'user.color'); raise SystemExit('removed xattr still readable')
except OSError as e:
    assert e.errno == errno.ENODATA, e
print('ok')
`;
    const r = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(r.stdout.trim(), 'ok');
  });

  it('a 64 MiB file written in 1 MiB pieces reads back identically', async () => {
    const file = path.join(mnt, 'big.bin');
    const h = createHash('sha256');
    const fh = await fs.open(file, 'w');
    const piece = randomBytes(1 << 20);
    for (let i = 0; i < 64; i++) {
      piece.writeUInt32LE(i, 0); // every MiB differs, so dedup cannot hide a misplaced block
      h.update(piece);
      await fh.write(piece, 0, piece.length, i << 20);
    }
    await fh.close();
    bigHash = h.digest('hex');
    assert.equal((await fs.stat(file)).size, 64 << 20);
    assert.equal(await sha256File(file), bigHash);
  });

  it('`mosaicfs umount` returns only after the daemon flushed and exited', async () => {
    const pid = lockPid(vol);
    assert.ok(pid);
    const r = await sb.run(['umount', mnt]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(isMountedSync(mnt), false);
    assert.equal(pidAlive(pid), false, 'daemon has exited when umount returns');
    assert.equal(lockPid(vol), null, 'the volume lock is released');
    const again = await sb.run(['umount', mnt]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not mounted/);
  });

  it('data persists across a remount; `fusermount -u` makes the daemon exit by itself', async () => {
    const r = await sb.run(['mount', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fs.readFile(path.join(mnt, 'hello.txt'), 'utf8'), 'hello, world\n');
    assert.equal(await sha256File(path.join(mnt, 'big.bin')), bigHash);
    assert.equal((await fs.stat(path.join(mnt, 'dir2/hard'))).nlink, 2);

    await fs.writeFile(path.join(mnt, 'late.txt'), 'written just before fusermount -u');
    const pid = lockPid(vol)!;
    assert.ok(pidAlive(pid));
    execFileSync('fusermount', ['-u', mnt]);
    await waitFor(() => !pidAlive(pid), 30_000, 'the daemon to exit after fusermount -u');
    assert.equal(lockPid(vol), null);
    const cat = await sb.run(['cat', `${vol}:/late.txt`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'written just before fusermount -u');
  });

  it('foreground mount: serves until SIGTERM, then unmounts, flushes and exits 0', async () => {
    const child = sb.start(['mount', '-f', vol, mnt]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = once(child, 'exit');
    await waitFor(() => isMountedSync(mnt) || child.exitCode !== null, 60_000, 'the foreground mount');
    assert.ok(isMountedSync(mnt), `not mounted; stderr: ${stderr}`);
    assert.equal(lockPid(vol), child.pid);
    const data = randomBytes(3 << 20);
    await fs.writeFile(path.join(mnt, 'fg.bin'), data);
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null, stderr);
    assert.equal(code, 0, stderr);
    assert.equal(isMountedSync(mnt), false);
    assert.equal(lockPid(vol), null);
    const cat = await sb.run(['stat', `${vol}:/fg.bin`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.match(cat.stdout, new RegExp(String(3 << 20)));
  });

  it('SIGTERM to a background daemon unmounts it', async () => {
    const r = await sb.run(['mount', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    const pid = lockPid(vol)!;
    await fs.writeFile(path.join(mnt, 'term.txt'), 'sigterm');
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !pidAlive(pid), 30_000, 'the daemon to exit after SIGTERM');
    assert.equal(isMountedSync(mnt), false);
    const cat = await sb.run(['cat', `${vol}:/term.txt`]);
    assert.equal(cat.stdout, 'sigterm', cat.stderr);
  });

  it('-o ro mounts read-only: reads work, every change is EROFS', async () => {
    const r = await sb.run(['mount', vol, mnt, '-o', 'ro']);
    assert.equal(r.code, 0, r.stderr);
    try {
      assert.equal(await fs.readFile(path.join(mnt, 'term.txt'), 'utf8'), 'sigterm');
      await assert.rejects(fs.writeFile(path.join(mnt, 'new.txt'), 'x'), { code: 'EROFS' });
      await assert.rejects(fs.appendFile(path.join(mnt, 'term.txt'), 'x'), { code: 'EROFS' });
      await assert.rejects(fs.mkdir(path.join(mnt, 'newdir')), { code: 'EROFS' });
      await assert.rejects(fs.unlink(path.join(mnt, 'term.txt')), { code: 'EROFS' });
    } finally {
      const un = await sb.run(['umount', mnt]);
      assert.equal(un.code, 0, un.stderr);
    }
  });
});
