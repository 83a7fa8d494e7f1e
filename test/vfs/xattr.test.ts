import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFIFO, XATTR_CREATE, XATTR_REPLACE } from '../../src/meta/MetaStore.js';
import { ALICE, BOB, CAROL, makeVolume, rejectsWith, ROOT, type TempVolume } from './harness.js';

describe('Vfs extended attributes', () => {
  let v: TempVolume;
  let dir: number;
  let file: number;
  before(async () => {
    v = await makeVolume();
    dir = (await v.vfs.mkdir(ROOT, ROOT_INO, 'xa', 0o777)).ino;
    const { fh, attr } = await v.vfs.create(ALICE, dir, 'f', 0o664, fsc.O_CREAT | fsc.O_WRONLY);
    await v.vfs.release(ALICE, fh);
    file = attr.ino;
  });
  after(async () => { await v.dispose(); });

  it('set, get, list, replace, remove, with CREATE/REPLACE flags', async () => {
    await v.vfs.setxattr(ALICE, file, 'user.color', Buffer.from('blue'), 0);
    assert.equal((await v.vfs.getxattr(ALICE, file, 'user.color')).toString(), 'blue');
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.color', Buffer.from('red'), XATTR_CREATE), 'EEXIST');
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.size', Buffer.from('1'), XATTR_REPLACE), 'ENODATA');
    await v.vfs.setxattr(ALICE, file, 'user.color', Buffer.from('red'), XATTR_REPLACE);
    await v.vfs.setxattr(ALICE, file, 'user.empty', Buffer.alloc(0), 0);
    assert.equal((await v.vfs.getxattr(ALICE, file, 'user.empty')).length, 0);
    assert.deepEqual((await v.vfs.listxattr(CAROL, file)).sort(), ['user.color', 'user.empty']);
    await v.vfs.removexattr(ALICE, file, 'user.empty');
    await rejectsWith(v.vfs.getxattr(ALICE, file, 'user.empty'), 'ENODATA');
    await rejectsWith(v.vfs.removexattr(ALICE, file, 'user.empty'), 'ENODATA');
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.x', Buffer.from('1'), XATTR_CREATE | XATTR_REPLACE), 'EINVAL');
    await rejectsWith(v.vfs.getxattr(ALICE, 999_999, 'user.color'), 'ENOENT');
  });

  it('names must be namespaced (ENOTSUP), at most 255 bytes (ERANGE); values at most 64 KiB (E2BIG)', async () => {
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'color', Buffer.from('x'), 0), 'ENOTSUP');
    await rejectsWith(v.vfs.getxattr(ALICE, file, 'os2.color'), 'ENOTSUP');
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.', Buffer.from('x'), 0), 'EINVAL');
    await rejectsWith(v.vfs.setxattr(ALICE, file, '', Buffer.from('x'), 0), 'ERANGE');
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.' + 'n'.repeat(251), Buffer.from('x'), 0), 'ERANGE');
    await v.vfs.setxattr(ALICE, file, 'user.' + 'n'.repeat(250), Buffer.from('x'), 0);
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'user.big', Buffer.alloc(65537), 0), 'E2BIG');
    await v.vfs.setxattr(ALICE, file, 'user.big', Buffer.alloc(65536, 1), 0);
    assert.equal((await v.vfs.getxattr(ALICE, file, 'user.big')).length, 65536);
  });

  it('user.* needs R to read and W to write; only on regular files and directories', async () => {
    await v.vfs.setxattr(BOB, file, 'user.bob', Buffer.from('b'), 0); // group rw
    await rejectsWith(v.vfs.setxattr(CAROL, file, 'user.carol', Buffer.from('c'), 0), 'EACCES');
    assert.equal((await v.vfs.getxattr(CAROL, file, 'user.bob')).toString(), 'b'); // other r
    await rejectsWith(v.vfs.removexattr(CAROL, file, 'user.bob'), 'EACCES');
    await v.vfs.setattr(ALICE, file, { mode: 0o660 });
    await rejectsWith(v.vfs.getxattr(CAROL, file, 'user.bob'), 'EACCES');
    await v.vfs.setattr(ALICE, file, { mode: 0o664 });
    await v.vfs.setxattr(ALICE, dir, 'user.on-dir', Buffer.from('d'), 0);
    const fifo = await v.vfs.mknod(ROOT, dir, 'fifo', S_IFIFO | 0o666, 0);
    await rejectsWith(v.vfs.setxattr(ROOT, fifo.ino, 'user.x', Buffer.from('1'), 0), 'EPERM');
    await rejectsWith(v.vfs.getxattr(ROOT, fifo.ino, 'user.x'), 'ENODATA');
    const link = await v.vfs.symlink(ROOT, dir, 'sl', 'f');
    await rejectsWith(v.vfs.setxattr(ROOT, link.ino, 'user.x', Buffer.from('1'), 0), 'EPERM');
  });

  it('user.* on a sticky directory is written by its owner only', async () => {
    const sticky = await v.vfs.mkdir(ALICE, dir, 'sticky', 0o1777);
    await rejectsWith(v.vfs.setxattr(BOB, sticky.ino, 'user.x', Buffer.from('1'), 0), 'EPERM');
    await v.vfs.setxattr(ALICE, sticky.ino, 'user.x', Buffer.from('1'), 0);
    assert.equal((await v.vfs.getxattr(BOB, sticky.ino, 'user.x')).toString(), '1');
  });

  it('trusted.* is root-only and hidden from others; security.* writes need ownership', async () => {
    await rejectsWith(v.vfs.setxattr(ALICE, file, 'trusted.t', Buffer.from('1'), 0), 'EPERM');
    await v.vfs.setxattr(ROOT, file, 'trusted.t', Buffer.from('1'), 0);
    assert.equal((await v.vfs.getxattr(ROOT, file, 'trusted.t')).toString(), '1');
    await rejectsWith(v.vfs.getxattr(ALICE, file, 'trusted.t'), 'ENODATA');
    assert.ok((await v.vfs.listxattr(ROOT, file)).includes('trusted.t'));
    assert.ok(!(await v.vfs.listxattr(ALICE, file)).includes('trusted.t'));
    await v.vfs.setxattr(ALICE, file, 'security.label', Buffer.from('s'), 0);
    await rejectsWith(v.vfs.setxattr(BOB, file, 'security.label', Buffer.from('b'), 0), 'EPERM');
    assert.equal((await v.vfs.getxattr(CAROL, file, 'security.label')).toString(), 's');
  });

  it('setxattr bumps ctime', async () => {
    const before1 = await v.vfs.getattr(ROOT, file);
    await new Promise((r) => setTimeout(r, 2));
    await v.vfs.setxattr(ALICE, file, 'user.t', Buffer.from('1'), 0);
    const after1 = await v.vfs.getattr(ROOT, file);
    assert.ok(after1.ctime.sec * 1e9 + after1.ctime.nsec > before1.ctime.sec * 1e9 + before1.ctime.nsec);
  });
});
