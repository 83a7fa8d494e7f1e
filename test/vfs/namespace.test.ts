import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from '../../src/meta/MetaStore.js';
import { ALICE, makeVolume, rejectsWith, ROOT, type TempVolume } from './harness.js';

describe('Vfs namespace operations', () => {
  let v: TempVolume;
  before(async () => { v = await makeVolume(); });
  after(async () => { await v.dispose(); });

  it('mkdir, lookup, and . / .. resolve (the root is its own parent)', async () => {
    const a = await v.vfs.mkdir(ROOT, ROOT_INO, 'ns-a', 0o755);
    assert.equal(a.mode & S_IFMT, S_IFDIR);
    assert.equal(a.mode & 0o7777, 0o755);
    const b = await v.vfs.mkdir(ROOT, a.ino, 'b', 0o700);
    assert.equal((await v.vfs.lookup(ROOT, a.ino, 'b')).ino, b.ino);
    assert.equal((await v.vfs.lookup(ROOT, b.ino, '.')).ino, b.ino);
    assert.equal((await v.vfs.lookup(ROOT, b.ino, '..')).ino, a.ino);
    assert.equal((await v.vfs.lookup(ROOT, a.ino, '..')).ino, ROOT_INO);
    assert.equal((await v.vfs.lookup(ROOT, ROOT_INO, '..')).ino, ROOT_INO);
    await rejectsWith(v.vfs.lookup(ROOT, a.ino, 'missing'), 'ENOENT');
    await rejectsWith(v.vfs.mkdir(ROOT, a.ino, 'b', 0o755), 'EEXIST');
    await rejectsWith(v.vfs.mkdir(ROOT, a.ino, '.', 0o755), 'EEXIST');
    await rejectsWith(v.vfs.mkdir(ROOT, 999_999, 'x', 0o755), 'ENOENT');
  });

  it('validates names: EINVAL for "", "/" and NUL, ENAMETOOLONG over 255 bytes', async () => {
    await rejectsWith(v.vfs.mkdir(ROOT, ROOT_INO, '', 0o755), 'EINVAL');
    await rejectsWith(v.vfs.mkdir(ROOT, ROOT_INO, 'a/b', 0o755), 'EINVAL');
    await rejectsWith(v.vfs.mkdir(ROOT, ROOT_INO, 'a\0b', 0o755), 'EINVAL');
    await rejectsWith(v.vfs.lookup(ROOT, ROOT_INO, 'x'.repeat(256)), 'ENAMETOOLONG');
    // 255 bytes is fine, also when made of multi-byte characters (85 x 3 bytes).
    const long = await v.vfs.mkdir(ROOT, ROOT_INO, 'é'.repeat(85) + 'x'.repeat(85), 0o755);
    assert.ok(long.ino > 0);
    await rejectsWith(v.vfs.mkdir(ROOT, ROOT_INO, 'é'.repeat(128), 0o755), 'ENAMETOOLONG');
  });

  it('lookup in a non-directory is ENOTDIR', async () => {
    const f = await v.vfs.mknod(ROOT, ROOT_INO, 'ns-plain', S_IFREG | 0o644, 0);
    await rejectsWith(v.vfs.lookup(ROOT, f.ino, 'x'), 'ENOTDIR');
    await rejectsWith(v.vfs.mkdir(ROOT, f.ino, 'x', 0o755), 'ENOTDIR');
  });

  it('resolve: absolute paths, .., intermediate symlinks followed, last one not, trailing slash', async () => {
    const top = await v.vfs.mkdir(ROOT, ROOT_INO, 'res', 0o755);
    const sub = await v.vfs.mkdir(ROOT, top.ino, 'sub', 0o755);
    const file = await v.vfs.mknod(ROOT, sub.ino, 'f', S_IFREG | 0o644, 0);
    const abs = await v.vfs.symlink(ROOT, top.ino, 'abs', '/res/sub');
    await v.vfs.symlink(ROOT, top.ino, 'rel', 'sub');
    await v.vfs.symlink(ROOT, sub.ino, 'up', '..');
    assert.equal((await v.vfs.resolve(ROOT, '/')).ino, ROOT_INO);
    assert.equal((await v.vfs.resolve(ROOT, '/res/sub/f')).ino, file.ino);
    assert.equal((await v.vfs.resolve(ROOT, '//res/./sub/../sub//f')).ino, file.ino);
    assert.equal((await v.vfs.resolve(ROOT, '/..')).ino, ROOT_INO);
    assert.equal((await v.vfs.resolve(ROOT, '/res/abs/f')).ino, file.ino);
    assert.equal((await v.vfs.resolve(ROOT, '/res/rel/f')).ino, file.ino);
    assert.equal((await v.vfs.resolve(ROOT, '/res/sub/up/sub/f')).ino, file.ino);
    // '..' after a symlink goes to the target's parent.
    assert.equal((await v.vfs.resolve(ROOT, '/res/abs/..')).ino, top.ino);
    // The last component is not followed, except with a trailing slash.
    assert.equal((await v.vfs.resolve(ROOT, '/res/abs')).ino, abs.ino);
    assert.equal((await v.vfs.resolve(ROOT, '/res/abs/')).ino, sub.ino);
    await rejectsWith(v.vfs.resolve(ROOT, '/res/sub/f/'), 'ENOTDIR');
    await rejectsWith(v.vfs.resolve(ROOT, '/res/sub/f/x'), 'ENOTDIR');
    await rejectsWith(v.vfs.resolve(ROOT, '/res/nope/f'), 'ENOENT');
    await rejectsWith(v.vfs.resolve(ROOT, 'res/sub'), 'EINVAL');
    await rejectsWith(v.vfs.resolve(ROOT, '/' + 'a/'.repeat(2100)), 'ENAMETOOLONG');
  });

  it('resolve: ELOOP after 40 symlinks, 40 is fine', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'loops', 0o755);
    await v.vfs.symlink(ROOT, d.ino, 'self', 'self');
    await rejectsWith(v.vfs.resolve(ROOT, '/loops/self/x'), 'ELOOP');
    // A chain l1 -> l2 -> ... -> l40 -> '.' needs exactly 40 follows.
    for (let i = 1; i <= 41; i++) await v.vfs.symlink(ROOT, d.ino, `l${i}`, i === 41 ? '.' : `l${i + 1}`);
    assert.equal((await v.vfs.resolve(ROOT, '/loops/l2/')).ino, d.ino);
    await rejectsWith(v.vfs.resolve(ROOT, '/loops/l1/'), 'ELOOP');
  });

  it('symlink and readlink; target limits', async () => {
    const s = await v.vfs.symlink(ROOT, ROOT_INO, 'sl', 'some/where');
    assert.equal(s.mode & S_IFMT, S_IFLNK);
    assert.equal(s.size, 10);
    assert.equal(await v.vfs.readlink(ROOT, s.ino), 'some/where');
    await rejectsWith(v.vfs.readlink(ROOT, ROOT_INO), 'EINVAL');
    const max = await v.vfs.symlink(ROOT, ROOT_INO, 'sl-max', 't'.repeat(4095));
    assert.equal((await v.vfs.readlink(ROOT, max.ino)).length, 4095);
    await rejectsWith(v.vfs.symlink(ROOT, ROOT_INO, 'sl-long', 't'.repeat(4096)), 'ENAMETOOLONG');
    await rejectsWith(v.vfs.symlink(ROOT, ROOT_INO, 'sl-empty', ''), 'ENOENT');
    await rejectsWith(v.vfs.symlink(ROOT, ROOT_INO, 'sl', 'x'), 'EEXIST');
  });

  it('mknod: files, FIFOs, sockets; devices for root only; no directories', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'nodes', 0o777);
    assert.equal((await v.vfs.mknod(ALICE, d.ino, 'fifo', S_IFIFO | 0o644, 0)).mode & S_IFMT, S_IFIFO);
    assert.equal((await v.vfs.mknod(ALICE, d.ino, 'sock', S_IFSOCK | 0o644, 0)).mode & S_IFMT, S_IFSOCK);
    assert.equal((await v.vfs.mknod(ALICE, d.ino, 'plain', 0o644, 0)).mode & S_IFMT, S_IFREG);
    await rejectsWith(v.vfs.mknod(ALICE, d.ino, 'chr', S_IFCHR | 0o644, 0x0103), 'EPERM');
    const chr = await v.vfs.mknod(ROOT, d.ino, 'chr', S_IFCHR | 0o644, 0x0103);
    assert.equal(chr.mode & S_IFMT, S_IFCHR);
    assert.equal(chr.rdev, 0x0103);
    await rejectsWith(v.vfs.mknod(ROOT, d.ino, 'dir', S_IFDIR | 0o755, 0), 'EPERM');
    await rejectsWith(v.vfs.mknod(ROOT, d.ino, 'lnk', S_IFLNK | 0o755, 0), 'EINVAL');
  });

  it('link shares the inode and counts nlink; EPERM for directories; unlink drops nlink', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'links', 0o755);
    const f = await v.vfs.mknod(ROOT, d.ino, 'a', S_IFREG | 0o644, 0);
    const l = await v.vfs.link(ROOT, f.ino, d.ino, 'b');
    assert.equal(l.ino, f.ino);
    assert.equal(l.nlink, 2);
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).nlink, 2);
    await rejectsWith(v.vfs.link(ROOT, f.ino, d.ino, 'b'), 'EEXIST');
    await rejectsWith(v.vfs.link(ROOT, d.ino, ROOT_INO, 'dirlink'), 'EPERM');
    await rejectsWith(v.vfs.link(ROOT, 999_999, d.ino, 'c'), 'ENOENT');
    await v.vfs.unlink(ROOT, d.ino, 'a');
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).nlink, 1);
    assert.equal((await v.vfs.lookup(ROOT, d.ino, 'b')).ino, f.ino);
    await rejectsWith(v.vfs.unlink(ROOT, d.ino, 'a'), 'ENOENT');
    await rejectsWith(v.vfs.unlink(ROOT, ROOT_INO, 'links'), 'EISDIR');
    await rejectsWith(v.vfs.unlink(ROOT, d.ino, '..'), 'EISDIR');
  });

  it('rmdir: ENOTEMPTY, ENOTDIR, EINVAL for ".", ENOTEMPTY for ".."', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'rm', 0o755);
    const sub = await v.vfs.mkdir(ROOT, d.ino, 'sub', 0o755);
    await v.vfs.mknod(ROOT, sub.ino, 'f', S_IFREG | 0o644, 0);
    await rejectsWith(v.vfs.rmdir(ROOT, d.ino, 'sub'), 'ENOTEMPTY');
    await rejectsWith(v.vfs.rmdir(ROOT, sub.ino, 'f'), 'ENOTDIR');
    await rejectsWith(v.vfs.rmdir(ROOT, sub.ino, '.'), 'EINVAL');
    await rejectsWith(v.vfs.rmdir(ROOT, sub.ino, '..'), 'ENOTEMPTY');
    await rejectsWith(v.vfs.rmdir(ROOT, d.ino, 'nope'), 'ENOENT');
    const nlinkBefore = (await v.vfs.getattr(ROOT, d.ino)).nlink;
    await v.vfs.unlink(ROOT, sub.ino, 'f');
    await v.vfs.rmdir(ROOT, d.ino, 'sub');
    await rejectsWith(v.vfs.lookup(ROOT, d.ino, 'sub'), 'ENOENT');
    assert.equal((await v.vfs.getattr(ROOT, d.ino)).nlink, nlinkBefore - 1);
    await rejectsWith(v.vfs.getattr(ROOT, sub.ino), 'ENOENT');
  });

  it('rename: move, replace, NOREPLACE, EXCHANGE, same inode, subtree EINVAL, bad flags', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'ren', 0o755);
    const x = await v.vfs.mkdir(ROOT, d.ino, 'x', 0o755);
    const a = await v.vfs.mknod(ROOT, d.ino, 'a', S_IFREG | 0o644, 0);
    const b = await v.vfs.mknod(ROOT, d.ino, 'b', S_IFREG | 0o644, 0);
    await v.vfs.rename(ROOT, d.ino, 'a', x.ino, 'a2', 0);
    assert.equal((await v.vfs.lookup(ROOT, x.ino, 'a2')).ino, a.ino);
    await rejectsWith(v.vfs.lookup(ROOT, d.ino, 'a'), 'ENOENT');

    await rejectsWith(v.vfs.rename(ROOT, x.ino, 'a2', d.ino, 'b', RENAME_NOREPLACE), 'EEXIST');
    await v.vfs.rename(ROOT, x.ino, 'a2', d.ino, 'b', RENAME_EXCHANGE);
    assert.equal((await v.vfs.lookup(ROOT, d.ino, 'b')).ino, a.ino);
    assert.equal((await v.vfs.lookup(ROOT, x.ino, 'a2')).ino, b.ino);
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'b', d.ino, 'none', RENAME_EXCHANGE), 'ENOENT');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'b', d.ino, 'c', RENAME_EXCHANGE | RENAME_NOREPLACE), 'EINVAL');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'b', d.ino, 'c', 8), 'EINVAL');

    // Replacing a file frees the replaced inode (nobody holds it).
    await v.vfs.rename(ROOT, x.ino, 'a2', d.ino, 'b', 0);
    await rejectsWith(v.vfs.getattr(ROOT, a.ino), 'ENOENT');
    assert.equal((await v.vfs.lookup(ROOT, d.ino, 'b')).ino, b.ino);

    // Two names of one inode: a no-op, both names stay.
    await v.vfs.link(ROOT, b.ino, d.ino, 'b-link');
    await v.vfs.rename(ROOT, d.ino, 'b', d.ino, 'b-link', 0);
    assert.equal((await v.vfs.lookup(ROOT, d.ino, 'b')).ino, b.ino);
    assert.equal((await v.vfs.getattr(ROOT, b.ino)).nlink, 2);

    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'x', x.ino, 'inside', 0), 'EINVAL');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'b', d.ino, 'x', 0), 'EISDIR');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'x', d.ino, 'b', 0), 'ENOTDIR');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, '.', d.ino, 'y', 0), 'EBUSY');
    await rejectsWith(v.vfs.rename(ROOT, d.ino, 'nope', d.ino, 'y', 0), 'ENOENT');
    // A directory replacing an empty directory frees it.
    const e1 = await v.vfs.mkdir(ROOT, d.ino, 'e1', 0o755);
    const e2 = await v.vfs.mkdir(ROOT, d.ino, 'e2', 0o755);
    await v.vfs.rename(ROOT, d.ino, 'e1', d.ino, 'e2', 0);
    assert.equal((await v.vfs.lookup(ROOT, d.ino, 'e2')).ino, e1.ino);
    await rejectsWith(v.vfs.getattr(ROOT, e2.ino), 'ENOENT');
    assert.deepEqual(await v.meta.listOrphans(), []);
    // A moved directory's '..' follows it.
    const y = await v.vfs.mkdir(ROOT, ROOT_INO, 'ren-y', 0o755);
    await v.vfs.rename(ROOT, d.ino, 'x', y.ino, 'x', 0);
    assert.equal((await v.vfs.lookup(ROOT, x.ino, '..')).ino, y.ino);
  });

  it('ctime and mtime of the parent change on create and unlink', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'times', 0o755);
    await new Promise((r) => setTimeout(r, 5));
    await v.vfs.mknod(ROOT, d.ino, 'f', S_IFREG | 0o644, 0);
    const after1 = await v.vfs.getattr(ROOT, d.ino);
    assert.ok(after1.mtime.sec * 1e9 + after1.mtime.nsec > d.mtime.sec * 1e9 + d.mtime.nsec);
    assert.deepEqual(after1.ctime, after1.mtime);
    await new Promise((r) => setTimeout(r, 5));
    await v.vfs.unlink(ROOT, d.ino, 'f');
    const after2 = await v.vfs.getattr(ROOT, d.ino);
    assert.ok(after2.mtime.sec * 1e9 + after2.mtime.nsec > after1.mtime.sec * 1e9 + after1.mtime.nsec);
  });

  it('leaves the metadata consistent', async () => {
    assert.deepEqual(await v.meta.check(), []);
  });
});
