import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from '../../src/meta/MetaStore.js';
import { now } from '../../src/util/time.js';
import type { ReaddirEntry } from '../../src/vfs/types.js';
import { makeVolume, rejectsWith, ROOT, type TempVolume } from './harness.js';

describe('Vfs readdir', () => {
  let v: TempVolume;
  before(async () => { v = await makeVolume(); });
  after(async () => { await v.dispose(); });

  async function listAll(dir: number, pageSize: number): Promise<ReaddirEntry[]> {
    const fh = await v.vfs.opendir(ROOT, dir);
    try {
      const all: ReaddirEntry[] = [];
      let offset = 0;
      for (;;) {
        const page = await v.vfs.readdir(ROOT, fh, offset, pageSize);
        if (page.length === 0) return all;
        assert.ok(page.length <= pageSize);
        all.push(...page);
        offset = page[page.length - 1].next;
      }
    } finally {
      await v.vfs.releasedir(ROOT, fh);
    }
  }

  it("lists '.' and '..' first, then every entry with its inode and type", async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'small', 0o755);
    const sub = await v.vfs.mkdir(ROOT, d.ino, 'sub', 0o755);
    const f = await v.vfs.mknod(ROOT, d.ino, 'file', S_IFREG | 0o644, 0);
    const entries = await listAll(d.ino, 100);
    assert.deepEqual(entries.slice(0, 2).map((e) => [e.name, e.ino, e.next]), [['.', d.ino, 1], ['..', ROOT_INO, 2]]);
    assert.equal(entries[0].mode & S_IFMT, S_IFDIR);
    const rest = new Map(entries.slice(2).map((e) => [e.name, e]));
    assert.deepEqual([...rest.keys()].sort(), ['file', 'sub']);
    assert.equal(rest.get('sub')?.ino, sub.ino);
    assert.equal(rest.get('sub')!.mode & S_IFMT, S_IFDIR);
    assert.equal(rest.get('file')?.ino, f.ino);
    assert.equal(rest.get('file')!.mode & S_IFMT, S_IFREG);
    assert.deepEqual(entries.map((e) => e.next), [1, 2, 3, 4]);
    const subList = await listAll(sub.ino, 1);
    assert.deepEqual(subList.map((e) => [e.name, e.ino]), [['.', sub.ino], ['..', d.ino]]);
    const rootList = await listAll(ROOT_INO, 10);
    assert.deepEqual(rootList.slice(0, 2).map((e) => e.ino), [ROOT_INO, ROOT_INO]);
  });

  it('resumes at any offset it gave out, also out of order and on a fresh handle', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'resume', 0o755);
    for (let i = 0; i < 50; i++) await v.vfs.mknod(ROOT, d.ino, `e${i}`, S_IFREG | 0o644, 0);
    const full = await listAll(d.ino, 1000);
    assert.equal(full.length, 52);
    const fh = await v.vfs.opendir(ROOT, d.ino);
    const fresh = await v.vfs.opendir(ROOT, d.ino);
    try {
      for (const start of [0, 1, 2, 3, 17, 40, 51, 10, 30, 2]) {
        const page = await v.vfs.readdir(ROOT, fh, start, 5);
        assert.deepEqual(page, full.slice(start, start + 5), `offset ${start} on a used handle`);
      }
      assert.deepEqual(await v.vfs.readdir(ROOT, fresh, 33, 4), full.slice(33, 37), 'fresh handle seeks');
      assert.deepEqual(await v.vfs.readdir(ROOT, fh, 52, 5), []);
      assert.deepEqual(await v.vfs.readdir(ROOT, fh, 500, 5), []);
      assert.deepEqual(await v.vfs.readdir(ROOT, fh, 0, 0), []);
      await rejectsWith(v.vfs.readdir(ROOT, fh, -1, 5), 'EINVAL');
    } finally {
      await v.vfs.releasedir(ROOT, fh);
      await v.vfs.releasedir(ROOT, fresh);
    }
    await rejectsWith(v.vfs.readdir(ROOT, fh, 0, 5), 'EBADF');
    await rejectsWith(v.vfs.opendir(ROOT, full[5].ino), 'ENOTDIR');
  });

  it('entries created or removed while listing do not disturb the rest of the listing', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'churn', 0o755);
    for (let i = 0; i < 30; i++) await v.vfs.mknod(ROOT, d.ino, `n${String(i).padStart(2, '0')}`, S_IFREG | 0o644, 0);
    const fh = await v.vfs.opendir(ROOT, d.ino);
    const first = await v.vfs.readdir(ROOT, fh, 0, 12);
    const seen = new Set(first.slice(2).map((e) => e.name));
    // Remove one entry already seen; the rest must still come exactly once.
    await v.vfs.unlink(ROOT, d.ino, first[5].name);
    let offset = first[first.length - 1].next;
    for (;;) {
      const page = await v.vfs.readdir(ROOT, fh, offset, 7);
      if (page.length === 0) break;
      for (const e of page) {
        assert.ok(!seen.has(e.name), `${e.name} listed twice`);
        seen.add(e.name);
      }
      offset = page[page.length - 1].next;
    }
    await v.vfs.releasedir(ROOT, fh);
    assert.equal(seen.size, 30);
  });

  it('lists a directory of 20,000 entries page by page with unique names and stable offsets', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'big', 0o755);
    const n = 20_000;
    // Straight into the store: this test is about listing, and 20,000 checked creates cost seconds.
    const t = now();
    for (let i = 0; i < n; i++) await v.meta.create(d.ino, `file-${i}`, { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: t });
    const entries = await listAll(d.ino, 500);
    assert.equal(entries.length, n + 2);
    const names = new Set(entries.slice(2).map((e) => e.name));
    assert.equal(names.size, n);
    for (let i = 0; i < n; i += 997) assert.ok(names.has(`file-${i}`));
    entries.forEach((e, i) => assert.equal(e.next, i + 1));
    // Jump into the middle on a fresh handle.
    const fh = await v.vfs.opendir(ROOT, d.ino);
    assert.deepEqual(await v.vfs.readdir(ROOT, fh, 15_000, 3), entries.slice(15_000, 15_003));
    await v.vfs.releasedir(ROOT, fh);
  });
});
