import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFDIR, S_IFREG, S_ISGID, S_ISUID, S_ISVTX, type InodeAttr } from '../../src/meta/MetaStore.js';
import { permits, R_OK, W_OK, X_OK, F_OK, newInodeOwner } from '../../src/vfs/permissions.js';
import type { Ctx } from '../../src/vfs/types.js';
import { ALICE, BOB, CAROL, makeVolume, rejectsWith, ROOT, type TempVolume } from './harness.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC } = fsc;
const T = { sec: 1, nsec: 0 };

function fake(mode: number, uid = 1000, gid = 1000): InodeAttr {
  return { ino: 5, mode, uid, gid, size: 0, nlink: 1, rdev: 0, allocated: 0, atime: T, mtime: T, ctime: T, crtime: T };
}

describe('permission bits (unit)', () => {
  it('exactly one class applies: owner, then group (with supplementary groups), then other', () => {
    const f = fake(S_IFREG | 0o461);
    assert.equal(permits(ALICE, f, R_OK), true);
    assert.equal(permits(ALICE, f, W_OK), false, 'owner bits deny although other bits allow nothing more');
    assert.equal(permits(BOB, f, W_OK), true, 'group 1000 is a supplementary group of bob');
    assert.equal(permits(BOB, f, X_OK), false);
    assert.equal(permits(CAROL, f, X_OK), true);
    assert.equal(permits(CAROL, f, R_OK | X_OK), false);
    assert.equal(permits(CAROL, f, F_OK), true);
  });

  it('root bypasses read/write; execute needs an x bit on files, never on directories', () => {
    assert.equal(permits(ROOT, fake(S_IFREG | 0o000), R_OK | W_OK), true);
    assert.equal(permits(ROOT, fake(S_IFREG | 0o644), X_OK), false);
    assert.equal(permits(ROOT, fake(S_IFREG | 0o001), X_OK), true);
    assert.equal(permits(ROOT, fake(S_IFDIR | 0o000), X_OK), true);
  });

  it('new inodes: caller ids, or the setgid parent group (dirs inherit S_ISGID)', () => {
    const plain = fake(S_IFDIR | 0o777, 0, 50);
    assert.deepEqual(newInodeOwner(ALICE, plain, S_IFREG | 0o644), { uid: 1000, gid: 1000, mode: S_IFREG | 0o644 });
    const sg = fake(S_IFDIR | S_ISGID | 0o777, 0, 50);
    assert.deepEqual(newInodeOwner(ALICE, sg, S_IFDIR | 0o755), { uid: 1000, gid: 50, mode: S_IFDIR | S_ISGID | 0o755 });
    assert.deepEqual(newInodeOwner(ALICE, sg, S_IFREG | S_ISGID | 0o755), { uid: 1000, gid: 50, mode: S_IFREG | 0o755 });
    assert.deepEqual(newInodeOwner(ROOT, sg, S_IFREG | S_ISGID | 0o755), { uid: 0, gid: 50, mode: S_IFREG | S_ISGID | 0o755 });
  });
});

describe('Vfs permission matrix', () => {
  let v: TempVolume;
  let base: number;
  before(async () => {
    v = await makeVolume({ chunkSize: 4096 });
    base = (await v.vfs.mkdir(ROOT, ROOT_INO, 'perm', 0o755)).ino;
  });
  after(async () => { await v.dispose(); });

  /** A directory under /perm owned by `owner` with the given mode (made by root, then chowned). */
  async function dirOf(name: string, owner: Ctx, mode: number, gid = owner.gid): Promise<InodeAttr> {
    const d = await v.vfs.mkdir(ROOT, base, name, mode);
    await v.vfs.setattr(ROOT, d.ino, { uid: owner.uid, gid });
    return v.vfs.setattr(ROOT, d.ino, { mode });
  }

  async function fileOf(dir: number, name: string, owner: Ctx, mode: number): Promise<InodeAttr> {
    const { fh, attr } = await v.vfs.create(owner, dir, name, mode, O_CREAT | O_WRONLY);
    await v.vfs.release(owner, fh);
    return attr;
  }

  async function canOpen(ctx: Ctx, ino: number, flags: number): Promise<boolean> {
    try {
      const { fh } = await v.vfs.open(ctx, ino, flags);
      await v.vfs.release(ctx, fh);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'EACCES') return false;
      throw err;
    }
  }

  it('open for read/write by root, owner, group member and other', async () => {
    const d = await dirOf('open', ALICE, 0o755);
    const f = await fileOf(d.ino, 'f', ALICE, 0o640);
    const table: Array<[Ctx, boolean, boolean]> = [[ROOT, true, true], [ALICE, true, true], [BOB, true, false], [CAROL, false, false]];
    for (const [ctx, r, w] of table) {
      assert.equal(await canOpen(ctx, f.ino, O_RDONLY), r, `read uid ${ctx.uid}`);
      assert.equal(await canOpen(ctx, f.ino, O_WRONLY), w, `write uid ${ctx.uid}`);
      assert.equal(await canOpen(ctx, f.ino, O_RDWR), r && w, `rdwr uid ${ctx.uid}`);
    }
    await rejectsWith(v.vfs.open(BOB, f.ino, O_RDONLY | O_TRUNC), 'EACCES');
    await rejectsWith(v.vfs.setattr(BOB, f.ino, { size: 0 }), 'EACCES');
  });

  it('access(): R/W/X per class, root needs an x bit to execute, EINVAL for unknown bits', async () => {
    const d = await dirOf('access', ALICE, 0o755);
    const f = await fileOf(d.ino, 'f', ALICE, 0o641);
    await v.vfs.access(CAROL, f.ino, X_OK);
    await rejectsWith(v.vfs.access(BOB, f.ino, X_OK), 'EACCES');
    await rejectsWith(v.vfs.access(ALICE, f.ino, X_OK), 'EACCES');
    await v.vfs.access(ROOT, f.ino, X_OK);
    await v.vfs.setattr(ALICE, f.ino, { mode: 0o640 });
    await rejectsWith(v.vfs.access(ROOT, f.ino, X_OK), 'EACCES');
    await v.vfs.access(ROOT, f.ino, R_OK | W_OK);
    await v.vfs.access(BOB, f.ino, R_OK);
    await rejectsWith(v.vfs.access(BOB, f.ino, R_OK | W_OK), 'EACCES');
    await v.vfs.access(CAROL, f.ino, F_OK);
    await rejectsWith(v.vfs.access(CAROL, f.ino, 8), 'EINVAL');
  });

  it('search permission on every directory walked', async () => {
    const d = await dirOf('search', ALICE, 0o700);
    await fileOf(d.ino, 'f', ALICE, 0o644);
    await rejectsWith(v.vfs.lookup(BOB, d.ino, 'f'), 'EACCES');
    await rejectsWith(v.vfs.resolve(BOB, '/perm/search/f'), 'EACCES');
    assert.ok((await v.vfs.resolve(ALICE, '/perm/search/f')).ino > 0);
    assert.ok((await v.vfs.resolve(ROOT, '/perm/search/f')).ino > 0);
    // Reading a directory needs R; searching it needs X.
    await v.vfs.setattr(ALICE, d.ino, { mode: 0o711 });
    assert.ok((await v.vfs.lookup(BOB, d.ino, 'f')).ino > 0);
    await rejectsWith(v.vfs.opendir(BOB, d.ino), 'EACCES');
  });

  it('namespace changes need write+search on the parent', async () => {
    const d = await dirOf('ro-dir', ALICE, 0o755);
    const f = await fileOf(d.ino, 'f', ALICE, 0o666);
    await fileOf(d.ino, 'g', ALICE, 0o666);
    await v.vfs.mkdir(ALICE, d.ino, 'sub', 0o777);
    const other = await dirOf('ro-other', BOB, 0o777);
    await rejectsWith(v.vfs.create(BOB, d.ino, 'x', 0o644, O_CREAT | O_WRONLY), 'EACCES');
    await rejectsWith(v.vfs.mkdir(BOB, d.ino, 'x', 0o755), 'EACCES');
    await rejectsWith(v.vfs.mknod(BOB, d.ino, 'x', S_IFREG | 0o644, 0), 'EACCES');
    await rejectsWith(v.vfs.symlink(BOB, d.ino, 'x', 'target'), 'EACCES');
    await rejectsWith(v.vfs.link(BOB, f.ino, d.ino, 'x'), 'EACCES');
    await rejectsWith(v.vfs.unlink(BOB, d.ino, 'f'), 'EACCES');
    await rejectsWith(v.vfs.rmdir(BOB, d.ino, 'sub'), 'EACCES');
    await rejectsWith(v.vfs.rename(BOB, d.ino, 'f', other.ino, 'f', 0), 'EACCES');
    await rejectsWith(v.vfs.rename(BOB, other.ino, 'nothing', d.ino, 'f', 0), 'ENOENT');
    // Group write lets bob (supplementary group 1000) in.
    await v.vfs.setattr(ALICE, d.ino, { mode: 0o775 });
    await v.vfs.mkdir(BOB, d.ino, 'bobs', 0o755);
    await v.vfs.rename(BOB, d.ino, 'g', other.ino, 'g', 0);
    await v.vfs.unlink(BOB, d.ino, 'f');
    await v.vfs.rmdir(BOB, d.ino, 'sub');
  });

  it('sticky directories: only the file owner, the directory owner or root remove or rename entries', async () => {
    const tmp = await dirOf('sticky', CAROL, 0o1777);
    assert.equal(tmp.mode & S_ISVTX, S_ISVTX);
    await fileOf(tmp.ino, 'alices', ALICE, 0o666);
    await fileOf(tmp.ino, 'bobs', BOB, 0o666);
    await fileOf(tmp.ino, 'bobs2', BOB, 0o666);
    await fileOf(tmp.ino, 'bobs3', BOB, 0o666);
    await rejectsWith(v.vfs.unlink(BOB, tmp.ino, 'alices'), 'EPERM');
    await rejectsWith(v.vfs.rename(BOB, tmp.ino, 'alices', tmp.ino, 'moved', 0), 'EPERM');
    await rejectsWith(v.vfs.rename(ALICE, tmp.ino, 'alices', tmp.ino, 'bobs', 0), 'EPERM');
    await v.vfs.rename(BOB, tmp.ino, 'bobs', tmp.ino, 'bobs-renamed', 0);
    await v.vfs.unlink(ALICE, tmp.ino, 'alices');
    await v.vfs.unlink(CAROL, tmp.ino, 'bobs-renamed'); // directory owner
    await v.vfs.unlink(ROOT, tmp.ino, 'bobs2');
    // Without the sticky bit anyone with write permission may.
    await v.vfs.setattr(CAROL, tmp.ino, { mode: 0o777 });
    await v.vfs.unlink(ALICE, tmp.ino, 'bobs3');
  });

  it('moving a directory to another parent needs write permission on the directory itself', async () => {
    const shared = await dirOf('shared', ROOT, 0o777);
    const dest = await v.vfs.mkdir(BOB, shared.ino, 'dest', 0o777);
    await v.vfs.mkdir(BOB, shared.ino, 'locked', 0o555);
    await rejectsWith(v.vfs.rename(BOB, shared.ino, 'locked', dest.ino, 'locked', 0), 'EACCES');
    await v.vfs.rename(BOB, shared.ino, 'locked', shared.ino, 'renamed-in-place', 0);
    await v.vfs.rename(ROOT, shared.ino, 'renamed-in-place', dest.ino, 'locked', 0);
  });

  it('setgid directories: group inherited, S_ISGID on new subdirectories, dropped from foreign setgid files', async () => {
    const sg = await dirOf('sgid', ROOT, 0o2777, 50);
    assert.equal(sg.mode & S_ISGID, S_ISGID);
    const sub = await v.vfs.mkdir(ALICE, sg.ino, 'sub', 0o777);
    assert.equal(sub.gid, 50);
    assert.equal(sub.mode & S_ISGID, S_ISGID);
    const f = await fileOf(sg.ino, 'f', ALICE, 0o644);
    assert.equal(f.gid, 50);
    assert.equal(f.mode & S_ISGID, 0);
    const x = await fileOf(sg.ino, 'x', ALICE, 0o2755);
    assert.equal(x.mode & 0o7777, 0o755, 'alice is not in group 50');
    const rx = await fileOf(sg.ino, 'rx', ROOT, 0o2755);
    assert.equal(rx.mode & 0o7777, 0o2755);
    const nested = await fileOf(sub.ino, 'nested', CAROL, 0o644);
    assert.equal(nested.gid, 50);
    const plain = await dirOf('no-sgid', ROOT, 0o777, 50);
    assert.equal((await fileOf(plain.ino, 'f', ALICE, 0o644)).gid, 1000);
    assert.equal((await v.vfs.mkdir(ALICE, plain.ino, 'mk', 0o2755)).mode & S_ISGID, 0, 'mkdir ignores S_ISGID in mode');
  });

  it('chmod: owner or root only; non-members lose S_ISGID', async () => {
    const d = await dirOf('chmod', ALICE, 0o777);
    const f = await fileOf(d.ino, 'f', ALICE, 0o644);
    await rejectsWith(v.vfs.setattr(BOB, f.ino, { mode: 0o777 }), 'EPERM');
    assert.equal((await v.vfs.setattr(ALICE, f.ino, { mode: 0o2755 })).mode, S_IFREG | 0o2755);
    await v.vfs.setattr(ROOT, f.ino, { gid: 50 });
    assert.equal((await v.vfs.setattr(ALICE, f.ino, { mode: 0o2755 })).mode, S_IFREG | 0o755, 'alice is not in group 50');
    assert.equal((await v.vfs.setattr(ROOT, f.ino, { mode: 0o2755 })).mode, S_IFREG | 0o2755);
    const before = await v.vfs.getattr(ROOT, f.ino);
    await new Promise((r) => setTimeout(r, 2));
    const after1 = await v.vfs.setattr(ALICE, f.ino, { mode: 0o600 });
    assert.ok(after1.ctime.sec * 1e9 + after1.ctime.nsec > before.ctime.sec * 1e9 + before.ctime.nsec, 'ctime bumps');
  });

  it('chown: only root changes the owner; the owner may pick one of his groups; set-id bits are cleared', async () => {
    const d = await dirOf('chown', ALICE, 0o777);
    const f = await fileOf(d.ino, 'f', ALICE, 0o644);
    await rejectsWith(v.vfs.setattr(ALICE, f.ino, { uid: 1001 }), 'EPERM');
    await rejectsWith(v.vfs.setattr(ALICE, f.ino, { gid: 1002 }), 'EPERM');
    await rejectsWith(v.vfs.setattr(BOB, f.ino, { gid: 1000 }), 'EPERM');
    assert.equal((await v.vfs.setattr(ALICE, f.ino, { uid: 1000 })).uid, 1000, 'chown to oneself is allowed');
    const multi: Ctx = { uid: 1000, gid: 1000, pid: 9, groups: [1000, 77] };
    assert.equal((await v.vfs.setattr(multi, f.ino, { gid: 77 })).gid, 77);
    const byRoot = await v.vfs.setattr(ROOT, f.ino, { uid: 1002, gid: 1002 });
    assert.equal(byRoot.uid, 1002);
    assert.equal(byRoot.gid, 1002);

    const s = await fileOf(d.ino, 'suid', ALICE, 0o644);
    await v.vfs.setattr(ALICE, s.ino, { mode: 0o6755 });
    assert.equal((await v.vfs.setattr(ALICE, s.ino, { gid: 1000 })).mode & 0o7777, 0o755, 'chown by the owner clears S_ISUID and S_ISGID (group-exec)');
    await v.vfs.setattr(ALICE, s.ino, { mode: 0o6755 });
    assert.equal((await v.vfs.setattr(ROOT, s.ino, { uid: 1001 })).mode & 0o7777, 0o755, 'also by root, as Linux does');
    await v.vfs.setattr(ROOT, s.ino, { mode: 0o2745 });
    assert.equal((await v.vfs.setattr(ROOT, s.ino, { gid: 1001 })).mode & 0o7777, 0o2745, 'S_ISGID without group-exec is kept');
    const sub = await v.vfs.mkdir(ALICE, d.ino, 'dir', 0o2755);
    await v.vfs.setattr(ALICE, sub.ino, { mode: 0o2755 });
    assert.equal((await v.vfs.setattr(ALICE, sub.ino, { gid: 1000 })).mode & 0o7777, 0o2755, 'directories keep S_ISGID');
  });

  it('a write or truncate by anyone but root clears S_ISUID (and S_ISGID with group-exec, or for a writer outside the group)', async () => {
    const d = await dirOf('suid-write', ALICE, 0o777);
    const f = await fileOf(d.ino, 'f', ALICE, 0o666);
    await v.vfs.setattr(ALICE, f.ino, { mode: 0o6777 });
    const r = await v.vfs.open(ROOT, f.ino, O_WRONLY);
    await v.vfs.write(ROOT, r.fh, 0, Buffer.from('root'));
    await v.vfs.release(ROOT, r.fh);
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).mode & 0o7777, 0o6777, 'root keeps the bits');
    const b = await v.vfs.open(BOB, f.ino, O_WRONLY);
    await v.vfs.write(BOB, b.fh, 0, Buffer.from('bob'));
    await v.vfs.release(BOB, b.fh);
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).mode & 0o7777, 0o777);
    // S_ISGID without group-exec (mandatory-locking style) stays for a writer in the file's group and
    // goes for one outside it (Linux's setattr_should_drop_sgid; BOB is in group 1000, CAROL is not).
    await v.vfs.setattr(ALICE, f.ino, { mode: 0o2767 });
    const g = await v.vfs.open(BOB, f.ino, O_WRONLY);
    await v.vfs.write(BOB, g.fh, 0, Buffer.from('g'));
    await v.vfs.release(BOB, g.fh);
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).mode & 0o7777, 0o2767, 'S_ISGID without group-exec stays for a group member');
    const c = await v.vfs.open(CAROL, f.ino, O_WRONLY);
    await v.vfs.write(CAROL, c.fh, 0, Buffer.from('c'));
    await v.vfs.release(CAROL, c.fh);
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).mode & 0o7777, 0o767, 'S_ISGID without group-exec goes for a writer outside the group');
    await v.vfs.setattr(ALICE, f.ino, { mode: 0o4777 });
    await v.vfs.setattr(CAROL, f.ino, { size: 1 });
    assert.equal((await v.vfs.getattr(ROOT, f.ino)).mode & 0o7777, 0o777, 'truncate clears S_ISUID');
  });

  it('utimens: explicit times need ownership (EPERM), "now" for both needs ownership or write (EACCES)', async () => {
    const d = await dirOf('utimens', ALICE, 0o777);
    const f = await fileOf(d.ino, 'f', ALICE, 0o664);
    const when = { sec: 1_000_000, nsec: 123 };
    const a = await v.vfs.setattr(ALICE, f.ino, { atime: when, mtime: { sec: 2_000_000, nsec: 456 } });
    assert.deepEqual(a.atime, when);
    assert.deepEqual(a.mtime, { sec: 2_000_000, nsec: 456 });
    await v.vfs.setattr(ROOT, f.ino, { mtime: when });
    await rejectsWith(v.vfs.setattr(BOB, f.ino, { atime: when, mtime: when }), 'EPERM');
    await rejectsWith(v.vfs.setattr(BOB, f.ino, { mtime: 'now' }), 'EPERM');
    const touched = await v.vfs.setattr(BOB, f.ino, { atime: 'now', mtime: 'now' });
    assert.ok(touched.mtime.sec > 2_000_000);
    assert.deepEqual(touched.atime, touched.mtime);
    await rejectsWith(v.vfs.setattr(CAROL, f.ino, { atime: 'now', mtime: 'now' }), 'EACCES');
    await rejectsWith(v.vfs.setattr(CAROL, f.ino, { atime: when }), 'EPERM');
    // Omitted times stay.
    const only = await v.vfs.setattr(ALICE, f.ino, { atime: when });
    assert.deepEqual(only.mtime, touched.mtime);
  });
});
