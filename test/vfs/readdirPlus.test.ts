/**
 * Vfs.readdir with attributes (what READDIRPLUS serves): each entry's attr is what lookup gives,
 * buffered writes included; none without search permission on the directory or when not asked.
 */
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFREG } from '../../src/meta/MetaStore.js';
import type { Ctx, ReaddirEntry } from '../../src/vfs/types.js';
import { ALICE, CAROL, makeVolume, ROOT, type TempVolume } from './harness.js';

describe('Vfs readdir with attributes', () => {
  let v: TempVolume;
  before(async () => { v = await makeVolume(); });
  after(async () => { await v.dispose(); });

  async function listAll(ctx: Ctx, dir: number, pageSize: number, withAttrs?: boolean): Promise<ReaddirEntry[]> {
    const fh = await v.vfs.opendir(ctx, dir);
    try {
      const all: ReaddirEntry[] = [];
      let offset = 0;
      for (;;) {
        const page = await v.vfs.readdir(ctx, fh, offset, pageSize, withAttrs);
        if (page.length === 0) return all;
        all.push(...page);
        offset = page[page.length - 1].next;
      }
    } finally {
      await v.vfs.releasedir(ctx, fh);
    }
  }

  it('gives every entry what lookup gives, on every page size, and nothing for . and ..', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'many', 0o755);
    for (let i = 0; i < 300; i++) {
      const n = `n${String(i).padStart(3, '0')}`;
      if (i % 10 === 0) await v.vfs.mkdir(ROOT, d.ino, n, 0o700);
      else await v.vfs.mknod(ROOT, d.ino, n, S_IFREG | 0o640, 0);
    }
    await v.vfs.symlink(ROOT, d.ino, 'sym', '/somewhere/else');
    for (const size of [1, 5, 2000]) {
      const entries = await listAll(ROOT, d.ino, size);
      assert.equal(entries.length, 303);
      assert.deepEqual(entries.slice(0, 2).map((e) => [e.name, e.attr]), [['.', undefined], ['..', undefined]]);
      for (const e of entries.slice(2)) assert.deepEqual(e.attr, await v.vfs.lookup(ROOT, d.ino, e.name), `${e.name} at page size ${size}`);
    }
  });

  it('reports the size of data still buffered in the write buffer, as lookup does', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'writing', 0o755);
    const { fh, attr } = await v.vfs.create(ROOT, d.ino, 'growing', S_IFREG | 0o644, fsc.O_RDWR);
    await v.vfs.write(ROOT, fh, 0, Buffer.alloc(12345, 7));
    const [entry] = (await listAll(ROOT, d.ino, 10)).slice(2);
    assert.equal(entry.ino, attr.ino);
    assert.equal(entry.attr?.size, 12345);
    assert.deepEqual(entry.attr, await v.vfs.lookup(ROOT, d.ino, 'growing'));
    await v.vfs.release(ROOT, fh);
  });

  it('gives no attributes without search permission, and none when not asked', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'readonly-dir', 0o755);
    await v.vfs.mknod(ROOT, d.ino, 'x', S_IFREG | 0o644, 0);
    await v.vfs.setattr(ROOT, d.ino, { uid: ALICE.uid, gid: ALICE.gid, mode: 0o744 }); // others: r--, no x
    const stranger = await listAll(CAROL, d.ino, 10);
    assert.deepEqual(stranger.map((e) => e.name), ['.', '..', 'x']);
    assert.ok(stranger.every((e) => e.attr === undefined));
    const owner = await listAll(ALICE, d.ino, 10);
    assert.equal(owner[2].attr?.ino, owner[2].ino);
    const bare = await listAll(ALICE, d.ino, 10, false);
    assert.deepEqual(bare.map((e) => [e.name, e.ino]), owner.map((e) => [e.name, e.ino]));
    assert.ok(bare.every((e) => e.attr === undefined));
  });

  it('checks search permission at each call: a chmod after opendir takes effect', async () => {
    const d = await v.vfs.mkdir(ROOT, ROOT_INO, 'chmod-later', 0o755);
    await v.vfs.mknod(ROOT, d.ino, 'a', S_IFREG | 0o644, 0);
    await v.vfs.mknod(ROOT, d.ino, 'b', S_IFREG | 0o644, 0);
    const fh = await v.vfs.opendir(CAROL, d.ino);
    try {
      const first = await v.vfs.readdir(CAROL, fh, 0, 3);
      assert.ok(first[2].attr, 'searchable: attributes');
      await v.vfs.setattr(ROOT, d.ino, { mode: 0o744 });
      const rest = await v.vfs.readdir(CAROL, fh, first[2].next, 10);
      assert.deepEqual(rest.map((e) => [e.name, e.attr]), [['b', undefined]]);
    } finally {
      await v.vfs.releasedir(CAROL, fh);
    }
  });
});
