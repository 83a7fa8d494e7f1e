import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFREG } from '../../src/meta/MetaStore.js';
import type { Vfs } from '../../src/vfs/Vfs.js';
import { W_OK, R_OK } from '../../src/vfs/permissions.js';
import { makeVolume, rejectsWith, ROOT, type Parts, type TempVolume } from './harness.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC } = fsc;

describe('Vfs on a read-only volume', () => {
  let v: TempVolume;
  let ro: Parts;
  let vfs: Vfs;
  let dir: number;
  let file: number;
  before(async () => {
    v = await makeVolume();
    dir = (await v.vfs.mkdir(ROOT, ROOT_INO, 'd', 0o755)).ino;
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'f', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, Buffer.from('content'));
    await v.vfs.release(ROOT, fh);
    await v.vfs.setxattr(ROOT, attr.ino, 'user.k', Buffer.from('v'), 0);
    await v.vfs.mknod(ROOT, dir, 'victim', S_IFREG | 0o644, 0);
    file = attr.ino;
    await v.close();
    ro = await v.reopen({ readonly: true });
    vfs = ro.vfs;
  });
  after(async () => {
    await ro.close();
    await v.dispose();
  });

  it('every mutating operation fails with EROFS', async () => {
    const rw = await ro.meta.getattr(file);
    await rejectsWith(vfs.mkdir(ROOT, dir, 'new', 0o755), 'EROFS');
    await rejectsWith(vfs.mknod(ROOT, dir, 'new', S_IFREG | 0o644, 0), 'EROFS');
    await rejectsWith(vfs.symlink(ROOT, dir, 'new', 'f'), 'EROFS');
    await rejectsWith(vfs.link(ROOT, file, dir, 'new'), 'EROFS');
    await rejectsWith(vfs.create(ROOT, dir, 'new', 0o644, O_CREAT | O_WRONLY), 'EROFS');
    await rejectsWith(vfs.unlink(ROOT, dir, 'victim'), 'EROFS');
    await rejectsWith(vfs.rmdir(ROOT, ROOT_INO, 'd'), 'EROFS');
    await rejectsWith(vfs.rename(ROOT, dir, 'victim', dir, 'other', 0), 'EROFS');
    await rejectsWith(vfs.setattr(ROOT, file, { mode: 0o600 }), 'EROFS');
    await rejectsWith(vfs.setattr(ROOT, file, { size: 0 }), 'EROFS');
    await rejectsWith(vfs.setattr(ROOT, file, { atime: 'now', mtime: 'now' }), 'EROFS');
    await rejectsWith(vfs.open(ROOT, file, O_WRONLY), 'EROFS');
    await rejectsWith(vfs.open(ROOT, file, O_RDWR), 'EROFS');
    await rejectsWith(vfs.open(ROOT, file, O_RDONLY | O_TRUNC), 'EROFS');
    await rejectsWith(vfs.setxattr(ROOT, file, 'user.k', Buffer.from('w'), 0), 'EROFS');
    await rejectsWith(vfs.removexattr(ROOT, file, 'user.k'), 'EROFS');
    await rejectsWith(vfs.access(ROOT, file, W_OK), 'EROFS');
    const { fh } = await vfs.open(ROOT, file, O_RDONLY);
    await rejectsWith(vfs.write(ROOT, fh, 0, Buffer.from('x')), 'EROFS');
    await rejectsWith(vfs.fallocate(ROOT, fh, 0, 0, 100), 'EROFS');
    await vfs.release(ROOT, fh);
    assert.deepEqual(await ro.meta.getattr(file), rw, 'nothing changed');
    assert.ok((await vfs.lookup(ROOT, dir, 'victim')).ino > 0);
  });

  it('reads, lookups, listings and xattr reads work, and atime is not updated', async () => {
    const before1 = await ro.meta.getattr(file);
    const { fh } = await vfs.open(ROOT, file, O_RDONLY);
    assert.equal((await vfs.read(ROOT, fh, 0, 100)).toString(), 'content');
    await vfs.release(ROOT, fh);
    assert.deepEqual((await ro.meta.getattr(file)).atime, before1.atime);
    assert.equal((await vfs.resolve(ROOT, '/d/f')).ino, file);
    await vfs.access(ROOT, file, R_OK);
    assert.equal((await vfs.getxattr(ROOT, file, 'user.k')).toString(), 'v');
    const dh = await vfs.opendir(ROOT, dir);
    assert.deepEqual((await vfs.readdir(ROOT, dh, 0, 10)).map((e) => e.name).sort(), ['.', '..', 'f', 'victim']);
    await vfs.releasedir(ROOT, dh);
    assert.ok((await vfs.statfs(ROOT)).blocks > 0);
  });
});
