import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFREG, type Timespec } from '../../src/meta/MetaStore.js';
import { compareTime, now } from '../../src/util/time.js';
import { ALICE, makeVolume, rejectsWith, ROOT, type TempVolume } from './harness.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fsc;
const O_NOATIME = fsc.O_NOATIME ?? 0o1000000;

function bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function ago(sec: number): Timespec {
  const t = now();
  return { sec: t.sec - sec, nsec: t.nsec };
}

async function blockFiles(v: TempVolume): Promise<number> {
  let n = 0;
  for await (const _ of v.blocks.list()) n++;
  return n;
}

describe('Vfs files and handles', () => {
  let v: TempVolume;
  let dir: number;
  before(async () => {
    v = await makeVolume({ chunkSize: 4096 });
    dir = (await v.vfs.mkdir(ROOT, ROOT_INO, 'files', 0o777)).ino;
  });
  after(async () => { await v.dispose(); });

  it('create, write, read back; getattr sees buffered size before the flush; release commits', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'hello', 0o644, O_CREAT | O_RDWR);
    assert.equal(attr.mode, S_IFREG | 0o644);
    assert.equal(await v.vfs.write(ROOT, fh, 0, bytes('hello, world')), 12);
    assert.equal((await v.vfs.getattr(ROOT, attr.ino)).size, 12);
    assert.equal((await v.vfs.read(ROOT, fh, 7, 100)).toString(), 'world');
    assert.equal((await v.vfs.read(ROOT, fh, 12, 10)).length, 0);
    await v.vfs.release(ROOT, fh);
    assert.equal((await v.meta.getattr(attr.ino)).size, 12);
    await rejectsWith(v.vfs.read(ROOT, fh, 0, 1), 'EBADF');
    const again = await v.vfs.open(ROOT, attr.ino, O_RDONLY);
    assert.equal((await v.vfs.read(ROOT, again.fh, 0, 100)).toString(), 'hello, world');
    await v.vfs.release(ROOT, again.fh);
  });

  it('create: O_EXCL gives EEXIST; without it the existing file opens and O_TRUNC truncates it', async () => {
    const first = await v.vfs.create(ROOT, dir, 'excl', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, first.fh, 0, bytes('data'));
    await v.vfs.release(ROOT, first.fh);
    await rejectsWith(v.vfs.create(ROOT, dir, 'excl', 0o644, O_CREAT | O_EXCL | O_WRONLY), 'EEXIST');
    const same = await v.vfs.create(ROOT, dir, 'excl', 0o600, O_CREAT | O_RDONLY);
    assert.equal(same.attr.ino, first.attr.ino);
    assert.equal(same.attr.size, 4);
    assert.equal(same.attr.mode & 0o777, 0o644, 'mode of an existing file is kept');
    await v.vfs.release(ROOT, same.fh);
    const trunc = await v.vfs.create(ROOT, dir, 'excl', 0o644, O_CREAT | O_WRONLY | O_TRUNC);
    assert.equal(trunc.attr.size, 0);
    await v.vfs.release(ROOT, trunc.fh);
    assert.equal((await v.vfs.getattr(ROOT, first.attr.ino)).size, 0);
    await rejectsWith(v.vfs.create(ROOT, ROOT_INO, 'files', 0o644, O_CREAT | O_WRONLY), 'EISDIR');
    await rejectsWith(v.vfs.create(ROOT, dir, 'bad-mode', 0o644, O_CREAT | 3), 'EINVAL');
  });

  it('access modes of handles: EBADF for the wrong direction, EISDIR for writing a directory', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'modes', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, bytes('abc'));
    await rejectsWith(v.vfs.read(ROOT, fh, 0, 3), 'EBADF');
    await v.vfs.release(ROOT, fh);
    const ro = await v.vfs.open(ROOT, attr.ino, O_RDONLY);
    await rejectsWith(v.vfs.write(ROOT, ro.fh, 0, bytes('x')), 'EBADF');
    await rejectsWith(v.vfs.fallocate(ROOT, ro.fh, 0, 0, 10), 'EBADF');
    await rejectsWith(v.vfs.setattr(ROOT, attr.ino, { size: 0 }, ro.fh), 'EINVAL');
    await v.vfs.release(ROOT, ro.fh);
    await rejectsWith(v.vfs.open(ROOT, dir, O_WRONLY), 'EISDIR');
    await rejectsWith(v.vfs.open(ROOT, dir, O_RDONLY | O_TRUNC), 'EISDIR');
    const d = await v.vfs.open(ROOT, dir, O_RDONLY);
    await v.vfs.release(ROOT, d.fh);
    await rejectsWith(v.vfs.release(ROOT, d.fh), 'EBADF');
    await rejectsWith(v.vfs.flush(ROOT, 424242), 'EBADF');
    await rejectsWith(v.vfs.open(ROOT, 999_999, O_RDONLY), 'ENOENT');
  });

  it('O_APPEND writes at the end, counting data still buffered by another handle', async () => {
    const w = await v.vfs.create(ROOT, dir, 'append', 0o644, O_CREAT | O_RDWR);
    await v.vfs.write(ROOT, w.fh, 0, bytes('0123456789'));
    const a = await v.vfs.open(ROOT, w.attr.ino, O_WRONLY | O_APPEND);
    assert.equal(await v.vfs.write(ROOT, a.fh, 0, bytes('AB')), 2);
    await v.vfs.write(ROOT, w.fh, 12, bytes('xy'));
    await v.vfs.write(ROOT, a.fh, 3, bytes('CD'));
    assert.equal((await v.vfs.read(ROOT, w.fh, 0, 100)).toString(), '0123456789ABxyCD');
    await v.vfs.release(ROOT, a.fh);
    await v.vfs.release(ROOT, w.fh);
    assert.equal((await v.meta.getattr(w.attr.ino)).size, 16);
  });

  it('concurrent O_APPEND writes never overwrite each other', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'append-many', 0o644, O_CREAT | O_WRONLY | O_APPEND);
    await Promise.all(Array.from({ length: 50 }, (_, i) => v.vfs.write(ROOT, fh, 0, bytes(`<${String(i).padStart(2, '0')}>`))));
    await v.vfs.release(ROOT, fh);
    const r = await v.vfs.open(ROOT, attr.ino, O_RDONLY);
    const text = (await v.vfs.read(ROOT, r.fh, 0, 1000)).toString();
    await v.vfs.release(ROOT, r.fh);
    assert.equal(text.length, 200);
    assert.deepEqual((text.match(/<\d\d>/g) ?? []).sort(), Array.from({ length: 50 }, (_, i) => `<${String(i).padStart(2, '0')}>`));
  });

  it('an unlinked open file stays readable and writable (nlink 0) until the last release, then it is purged', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'doomed', 0o644, O_CREAT | O_RDWR);
    const payload = Buffer.alloc(20_000, 7);
    await v.vfs.write(ROOT, fh, 0, payload);
    await v.vfs.flush(ROOT, fh);
    const ids = [...(await v.meta.readChunks(attr.ino, 0, 10)).values()].flat().map((s) => s.blockId);
    assert.ok(ids.length > 0);
    const second = await v.vfs.open(ROOT, attr.ino, O_RDONLY);
    const inodesBefore = (await v.meta.stats()).inodes;
    await v.vfs.unlink(ROOT, dir, 'doomed');
    await rejectsWith(v.vfs.lookup(ROOT, dir, 'doomed'), 'ENOENT');
    assert.equal((await v.vfs.getattr(ROOT, attr.ino)).nlink, 0);
    assert.deepEqual(await v.vfs.read(ROOT, second.fh, 0, 20_000), payload);
    await v.vfs.write(ROOT, fh, 20_000, bytes('tail'));
    assert.equal((await v.vfs.read(ROOT, second.fh, 20_000, 10)).toString(), 'tail');
    await v.vfs.release(ROOT, fh);
    assert.equal((await v.vfs.read(ROOT, second.fh, 19_998, 10)).length, 6, 'still readable after the first release');
    assert.equal((await v.meta.stats()).inodes, inodesBefore);
    await v.vfs.release(ROOT, second.fh);
    await rejectsWith(v.vfs.getattr(ROOT, attr.ino), 'ENOENT');
    assert.equal((await v.meta.stats()).inodes, inodesBefore - 1);
    assert.deepEqual(await v.meta.listOrphans(), []);
    await v.data.collectGarbage({ graceMs: 0 });
    for (const id of ids) {
      assert.equal(await v.meta.getBlock(id), null, `block ${id} forgotten`);
      assert.equal(await v.blocks.has(id), false, `block ${id} deleted`);
    }
    assert.equal((await v.meta.stats()).blocks, await blockFiles(v), 'every recorded block is stored and nothing else');
  });

  it('a file replaced by rename stays readable through its open handle until released', async () => {
    const a = await v.vfs.create(ROOT, dir, 'ren-a', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, a.fh, 0, bytes('new'));
    await v.vfs.release(ROOT, a.fh);
    const b = await v.vfs.create(ROOT, dir, 'ren-b', 0o644, O_CREAT | O_RDWR);
    await v.vfs.write(ROOT, b.fh, 0, bytes('old'));
    await v.vfs.rename(ROOT, dir, 'ren-a', dir, 'ren-b', 0);
    assert.equal((await v.vfs.lookup(ROOT, dir, 'ren-b')).ino, a.attr.ino);
    assert.equal((await v.vfs.getattr(ROOT, b.attr.ino)).nlink, 0);
    assert.equal((await v.vfs.read(ROOT, b.fh, 0, 10)).toString(), 'old');
    await v.vfs.release(ROOT, b.fh);
    await rejectsWith(v.vfs.getattr(ROOT, b.attr.ino), 'ENOENT');
    assert.deepEqual(await v.meta.listOrphans(), []);
  });

  it('unlinking one of two hard links of an open file keeps the inode', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'hl-1', 0o644, O_CREAT | O_RDWR);
    await v.vfs.link(ROOT, attr.ino, dir, 'hl-2');
    await v.vfs.unlink(ROOT, dir, 'hl-1');
    await v.vfs.release(ROOT, fh);
    assert.equal((await v.vfs.getattr(ROOT, attr.ino)).nlink, 1);
    await v.vfs.unlink(ROOT, dir, 'hl-2');
    await rejectsWith(v.vfs.getattr(ROOT, attr.ino), 'ENOENT');
  });

  it('unlinking a closed file frees its blocks', async () => {
    const { fh } = await v.vfs.create(ROOT, dir, 'gone', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, Buffer.alloc(10_000, 9));
    await v.vfs.release(ROOT, fh);
    await v.data.collectGarbage({ graceMs: 0 });
    const before = await v.meta.stats();
    await v.vfs.unlink(ROOT, dir, 'gone');
    await v.data.collectGarbage({ graceMs: 0 });
    const afterStats = await v.meta.stats();
    assert.ok(afterStats.blocks < before.blocks, `blocks ${before.blocks} -> ${afterStats.blocks}`);
    assert.equal(afterStats.referencedBytes, before.referencedBytes - 10_000);
    assert.equal(afterStats.blocks, await blockFiles(v));
  });

  it('setattr size: grow reads zeros, shrink cuts; EISDIR, EINVAL, EFBIG; write permission unless via a writable handle', async () => {
    const { fh, attr } = await v.vfs.create(ALICE, dir, 'sized', 0o444, O_CREAT | O_RDWR);
    await v.vfs.write(ALICE, fh, 0, bytes('abcdef'));
    assert.equal((await v.vfs.setattr(ALICE, attr.ino, { size: 3 }, fh)).size, 3);
    assert.equal((await v.vfs.setattr(ALICE, attr.ino, { size: 8 }, fh)).size, 8);
    assert.deepEqual(await v.vfs.read(ALICE, fh, 0, 100), Buffer.from([97, 98, 99, 0, 0, 0, 0, 0]));
    await rejectsWith(v.vfs.setattr(ALICE, attr.ino, { size: 1 }), 'EACCES');
    await rejectsWith(v.vfs.setattr(ALICE, attr.ino, { size: -1 }, fh), 'EINVAL');
    await rejectsWith(v.vfs.setattr(ALICE, attr.ino, { size: 2 ** 53 + 2 }, fh), 'EFBIG');
    await rejectsWith(v.vfs.setattr(ROOT, dir, { size: 0 }), 'EISDIR');
    await v.vfs.release(ALICE, fh);
    assert.equal((await v.vfs.setattr(ROOT, attr.ino, { size: 0 })).size, 0);
  });

  it('times set while writes are still buffered survive the commit (cp -p, tar)', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'preserved', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, Buffer.alloc(3000, 5));
    assert.notEqual(v.data.pending(attr.ino), null);
    const when = { sec: 1_234_567_890, nsec: 42 };
    await v.vfs.setattr(ROOT, attr.ino, { atime: when, mtime: when });
    await v.vfs.release(ROOT, fh);
    const st = await v.vfs.getattr(ROOT, attr.ino);
    assert.deepEqual(st.mtime, when);
    assert.equal(st.size, 3000);
  });

  it('write: EFBIG at 2^53, EINVAL for a negative offset, zero-length writes return 0', async () => {
    const { fh } = await v.vfs.create(ROOT, dir, 'big', 0o644, O_CREAT | O_WRONLY);
    await rejectsWith(v.vfs.write(ROOT, fh, 2 ** 53, bytes('x')), 'EFBIG');
    await rejectsWith(v.vfs.write(ROOT, fh, -1, bytes('x')), 'EINVAL');
    assert.equal(await v.vfs.write(ROOT, fh, 5, new Uint8Array(0)), 0);
    await v.vfs.release(ROOT, fh);
  });

  it('fallocate mode 0 extends the size (never shrinks); other modes EOPNOTSUPP', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'falloc', 0o644, O_CREAT | O_RDWR);
    await v.vfs.write(ROOT, fh, 0, bytes('xyz'));
    await v.vfs.fallocate(ROOT, fh, 0, 100, 9000);
    assert.equal((await v.vfs.getattr(ROOT, attr.ino)).size, 9100);
    await v.vfs.fallocate(ROOT, fh, 0, 0, 10);
    assert.equal((await v.vfs.getattr(ROOT, attr.ino)).size, 9100);
    const data = await v.vfs.read(ROOT, fh, 0, 10_000);
    assert.equal(data.length, 9100);
    assert.equal(data.subarray(0, 3).toString(), 'xyz');
    assert.ok(data.subarray(3).every((b) => b === 0));
    await rejectsWith(v.vfs.fallocate(ROOT, fh, 1, 0, 10), 'EOPNOTSUPP');
    await rejectsWith(v.vfs.fallocate(ROOT, fh, 0, 0, 0), 'EINVAL');
    await v.vfs.release(ROOT, fh);
  });

  it('relatime: read refreshes atime when not newer than mtime/ctime or older than a day; never touches ctime', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'atime', 0o644, O_CREAT | O_RDWR);
    await v.vfs.write(ROOT, fh, 0, bytes('data'));
    await v.vfs.release(ROOT, fh);
    const r = await v.vfs.open(ROOT, attr.ino, O_RDONLY);
    const t0 = await v.meta.getattr(attr.ino);
    await v.vfs.read(ROOT, r.fh, 0, 4);
    const t1 = await v.meta.getattr(attr.ino);
    assert.ok(compareTime(t1.atime, t0.mtime) > 0, 'atime moved past mtime');
    assert.deepEqual(t1.ctime, t0.ctime, 'ctime unchanged by the atime update');
    await v.vfs.read(ROOT, r.fh, 0, 4);
    assert.deepEqual((await v.meta.getattr(attr.ino)).atime, t1.atime, 'recent atime newer than mtime/ctime is kept');

    const old = ago(3 * 86400);
    await v.meta.setattr(attr.ino, { atime: ago(2 * 86400), mtime: old, ctime: old });
    await v.vfs.read(ROOT, r.fh, 0, 4);
    assert.ok(now().sec - (await v.meta.getattr(attr.ino)).atime.sec < 60, 'a day-old atime is refreshed');

    const hourAgo = ago(3600);
    await v.meta.setattr(attr.ino, { atime: hourAgo, mtime: old, ctime: old });
    await v.vfs.read(ROOT, r.fh, 0, 4);
    assert.deepEqual((await v.meta.getattr(attr.ino)).atime, hourAgo);
    await v.vfs.release(ROOT, r.fh);

    await v.meta.setattr(attr.ino, { atime: ago(2 * 86400), mtime: old, ctime: old });
    const noatime = await v.vfs.open(ROOT, attr.ino, O_RDONLY | O_NOATIME);
    const before = (await v.meta.getattr(attr.ino)).atime;
    await v.vfs.read(ROOT, noatime.fh, 0, 4);
    assert.deepEqual((await v.meta.getattr(attr.ino)).atime, before, 'O_NOATIME leaves atime alone');
    await v.vfs.release(ROOT, noatime.fh);
    await rejectsWith(v.vfs.open(ALICE, attr.ino, O_RDONLY | O_NOATIME), 'EPERM');
  });

  it('fsync makes the data durable in the stores; fsyncdir syncs metadata', async () => {
    const { fh, attr } = await v.vfs.create(ROOT, dir, 'synced', 0o644, O_CREAT | O_WRONLY);
    await v.vfs.write(ROOT, fh, 0, Buffer.alloc(5000, 1));
    await v.vfs.fsync(ROOT, fh, false);
    assert.equal((await v.meta.getattr(attr.ino)).size, 5000);
    assert.equal(v.data.pending(attr.ino), null);
    await v.vfs.release(ROOT, fh);
    const d = await v.vfs.opendir(ROOT, dir);
    await v.vfs.fsyncdir(ROOT, d, false);
    await v.vfs.releasedir(ROOT, d);
    await rejectsWith(v.vfs.fsyncdir(ROOT, d, false), 'EBADF');
  });

  it('statfs reports the disk of the volume in 4 KiB blocks and the inodes in use', async () => {
    const st = await v.vfs.statfs(ROOT);
    assert.equal(st.bsize, 4096);
    assert.equal(st.frsize, 4096);
    assert.equal(st.namemax, 255);
    assert.ok(st.blocks > 0 && st.bfree <= st.blocks && st.bavail <= st.bfree);
    const { inodes } = await v.meta.stats();
    assert.equal(st.files - st.ffree, inodes);
  });
});

describe('Vfs orphans after a crash', () => {
  it('an inode unlinked while open when the process died is purged at the next construction', async () => {
    const v = await makeVolume({ chunkSize: 4096 });
    try {
      const { fh, attr } = await v.vfs.create(ROOT, ROOT_INO, 'tmpfile', 0o600, O_CREAT | O_RDWR);
      await v.vfs.write(ROOT, fh, 0, Buffer.alloc(9000, 3));
      await v.vfs.flush(ROOT, fh);
      await v.vfs.unlink(ROOT, ROOT_INO, 'tmpfile');
      assert.deepEqual(await v.meta.listOrphans(), [attr.ino]);
      await v.data.close();
      await v.crash(); // no release: the handle dies with the process
      const p = await v.reopen();
      assert.deepEqual(await p.meta.listOrphans(), []);
      await rejectsWith(p.vfs.getattr(ROOT, attr.ino), 'ENOENT');
      assert.equal((await p.meta.stats()).referencedBytes, 0);
      await p.close();
    } finally {
      await v.dispose();
    }
  });
});
