/**
 * The MetaStore contract: every engine (SQLite, PostgreSQL, remote proxy) must pass this suite
 * unchanged. It uses only the MetaStore interface.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FsError, type ErrnoCode } from '../../src/errors.js';
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
  S_IFSOCK, XATTR_CREATE, XATTR_REPLACE,
  type InodeAttr, type MetaStore, type NewBlock, type Slice, type Timespec,
} from '../../src/meta/MetaStore.js';

export interface MetaStoreFixture {
  store: MetaStore;
  cleanup: () => Promise<void>;
  /** The chunk size the store was opened with; absent means the default, 4 MiB. */
  chunkSize?: number;
  /** The store's hard-link limit; absent means LINK_MAX (65000, as ext4). Slow engines are tested with a lower one. */
  linkMax?: number;
}

const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
const DEFAULT_LINK_MAX = 65000;
const LINK_BATCH = 8;

/** A distinct, increasing timestamp for each call (so every time update is observable). */
let clock = 0;
function tick(): Timespec {
  clock++;
  return { sec: 1_700_000_000 + clock, nsec: (clock * 7919) % 1_000_000_000 };
}

function blockId(n: number | string): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

async function expectCode(p: Promise<unknown>, code: ErrnoCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FsError, `expected FsError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code} (${err.message})`);
    return true;
  });
}

/** check() lines that are problems (not the informational orphan lines). */
async function problems(store: MetaStore): Promise<string[]> {
  return (await store.check()).filter((l) => !l.startsWith('orphan:'));
}

async function listAll(store: MetaStore, dir: number, pageSize = 1000): Promise<Array<{ name: string; ino: number; mode: number }>> {
  const out = [];
  let cursor: string | null = null;
  do {
    const page = await store.readdir(dir, cursor, pageSize);
    out.push(...page.entries);
    cursor = page.next;
  } while (cursor !== null);
  return out;
}

export function metaStoreContract(name: string, factory: () => Promise<MetaStoreFixture>): void {
  describe(`MetaStore contract: ${name}`, () => {
    let fx: MetaStoreFixture;
    let store: MetaStore;
    let chunkSize: number;
    let linkMax: number;
    let rootTime: Timespec;

    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
      chunkSize = fx.chunkSize ?? DEFAULT_CHUNK_SIZE;
      linkMax = fx.linkMax ?? DEFAULT_LINK_MAX;
      rootTime = tick();
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: rootTime });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const mkfile = (parent: number, n: string, mode = 0o644) =>
      store.create(parent, n, { mode: S_IFREG | mode, uid: 1000, gid: 100, now: tick() });
    const mkdir = (parent: number, n: string) =>
      store.create(parent, n, { mode: S_IFDIR | 0o755, uid: 1000, gid: 100, now: tick() });
    const nlink = async (ino: number) => (await store.getattr(ino)).nlink;
    const blk = (id: string, size: number): NewBlock => ({ id, size, storedSize: size + 28 });
    const slice = (blockIdv: string, chunkOff: number, len: number, blockOff = 0): Slice => ({
      blockId: blockIdv, chunkOff, len, blockOff,
    });

    describe('init and settings', () => {
      it('creates the root directory once; a fresh store checks clean', async () => {
        const root = await store.getattr(ROOT_INO);
        assert.equal(root.ino, ROOT_INO);
        assert.equal(root.mode, S_IFDIR | 0o755);
        assert.equal(root.nlink, 2);
        assert.deepEqual([root.uid, root.gid], [0, 0]);
        assert.deepEqual(root.mtime, rootTime);
        assert.deepEqual(root.crtime, rootTime);
        await store.init({ mode: S_IFDIR | 0o700, uid: 5, gid: 5, now: tick() });
        assert.deepEqual(await store.getattr(ROOT_INO), root);
        assert.deepEqual(await store.check(), []);
        assert.deepEqual(await listAll(store, ROOT_INO), []);
        await store.sync();
      });

      it('stores settings', async () => {
        assert.equal(await store.getSetting('contract.key'), null);
        await store.setSetting('contract.key', 'one');
        assert.equal(await store.getSetting('contract.key'), 'one');
        await store.setSetting('contract.key', 'two');
        assert.equal(await store.getSetting('contract.key'), 'two');
      });
    });

    describe('create, lookup, getattr, readlink', () => {
      it('creates every file type with the right attributes and updates the parent', async () => {
        const t = tick();
        const f = await store.create(ROOT_INO, 'file', { mode: S_IFREG | 0o640, uid: 7, gid: 8, now: t });
        assert.deepEqual(
          [f.mode, f.uid, f.gid, f.size, f.nlink, f.rdev],
          [S_IFREG | 0o640, 7, 8, 0, 1, 0],
        );
        for (const ts of [f.atime, f.mtime, f.ctime, f.crtime]) assert.deepEqual(ts, t);
        let root = await store.getattr(ROOT_INO);
        assert.deepEqual([root.nlink, root.mtime, root.ctime], [2, t, t]);

        const td = tick();
        const d = await store.create(ROOT_INO, 'dir', { mode: S_IFDIR | 0o700, uid: 7, gid: 8, now: td });
        assert.equal(d.nlink, 2);
        root = await store.getattr(ROOT_INO);
        assert.deepEqual([root.nlink, root.mtime, root.ctime], [3, td, td]);

        const target = '../tärget/ü';
        const l = await store.create(d.ino, 'link', { mode: S_IFLNK | 0o777, uid: 7, gid: 8, now: tick(), symlinkTarget: target });
        assert.equal(l.size, Buffer.byteLength(target));
        assert.equal(l.nlink, 1);
        assert.equal(await store.readlink(l.ino), target);

        const fifo = await store.create(d.ino, 'fifo', { mode: S_IFIFO | 0o600, uid: 0, gid: 0, now: tick() });
        const sock = await store.create(d.ino, 'sock', { mode: S_IFSOCK | 0o600, uid: 0, gid: 0, now: tick() });
        const chr = await store.create(d.ino, 'chr', { mode: S_IFCHR | 0o600, uid: 0, gid: 0, rdev: 0x0103, now: tick() });
        assert.equal(chr.rdev, 0x0103);
        const dirNow = await store.getattr(d.ino);
        assert.equal(dirNow.nlink, 2, 'non-directories do not add to nlink');
        assert.deepEqual(dirNow.mtime, chr.mtime, 'each create updates the parent mtime');

        for (const [parent, n, attr] of [
          [ROOT_INO, 'file', f], [ROOT_INO, 'dir', dirNow], [d.ino, 'link', l], [d.ino, 'fifo', fifo],
          [d.ino, 'sock', sock], [d.ino, 'chr', chr],
        ] as Array<[number, string, InodeAttr]>) {
          assert.deepEqual(await store.lookup(parent, n), attr);
          assert.deepEqual(await store.getattr(attr.ino), attr);
        }
        assert.equal(new Set([f, d, l, fifo, sock, chr].map((a) => a.ino)).size, 6);
        assert.equal(await store.lookup(ROOT_INO, 'nothing'), null);
        assert.deepEqual(await problems(store), []);
      });

      it('rejects bad names, missing or non-directory parents and existing names', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        for (const bad of ['', '.', '..', 'a/b', '/', 'a\0b']) {
          await expectCode(mkfile(ROOT_INO, bad), 'EINVAL');
        }
        const ok255 = 'é'.repeat(127) + 'a';
        assert.equal(Buffer.byteLength(ok255), 255);
        const long256 = 'é'.repeat(128);
        assert.equal(Buffer.byteLength(long256), 256);
        assert.equal((await mkfile(ROOT_INO, ok255)).nlink, 1);
        assert.ok(await store.lookup(ROOT_INO, ok255));
        await expectCode(mkfile(ROOT_INO, long256), 'ENAMETOOLONG');
        await expectCode(mkdir(ROOT_INO, 'x'.repeat(256)), 'ENAMETOOLONG');
        await expectCode(store.lookup(ROOT_INO, long256), 'ENAMETOOLONG');

        await expectCode(mkfile(ROOT_INO, 'f'), 'EEXIST');
        await expectCode(mkdir(ROOT_INO, 'f'), 'EEXIST');
        await expectCode(mkfile(f.ino, 'x'), 'ENOTDIR');
        await expectCode(mkfile(987654, 'x'), 'ENOENT');
        await expectCode(store.lookup(f.ino, 'x'), 'ENOTDIR');
        await expectCode(store.lookup(987654, 'x'), 'ENOENT');
        await expectCode(store.getattr(987654), 'ENOENT');
        await expectCode(store.readlink(f.ino), 'EINVAL');
        await expectCode(
          store.create(ROOT_INO, 'empty-link', { mode: S_IFLNK | 0o777, uid: 0, gid: 0, now: tick(), symlinkTarget: '' }),
          'ENOENT');
        await expectCode(store.create(ROOT_INO, 'typeless', { mode: 0o644, uid: 0, gid: 0, now: tick() }), 'EINVAL');
        assert.deepEqual((await listAll(store, ROOT_INO)).map((e) => e.name).sort(), ['f', ok255].sort());
        assert.deepEqual(await problems(store), []);
      });
    });

    describe('link and unlink', () => {
      it('keeps nlink, ctime and parent times right through links, unlinks and purge', async () => {
        const a = await mkdir(ROOT_INO, 'a');
        const b = await mkdir(ROOT_INO, 'b');
        const f = await mkfile(a.ino, 'f');
        const t1 = tick();
        const l1 = await store.link(f.ino, b.ino, 'g', t1);
        assert.equal(l1.nlink, 2);
        assert.deepEqual(l1.ctime, t1);
        assert.deepEqual((await store.getattr(b.ino)).mtime, t1);
        assert.equal((await store.getattr(b.ino)).nlink, 2, 'a file link does not change dir nlink');
        await store.link(f.ino, a.ino, 'h', tick());
        assert.equal(await nlink(f.ino), 3);
        for (const [p, n] of [[a.ino, 'f'], [b.ino, 'g'], [a.ino, 'h']] as const) {
          assert.equal((await store.lookup(p, n))?.ino, f.ino);
        }
        assert.deepEqual(await problems(store), []);

        const t2 = tick();
        assert.deepEqual(await store.unlink(a.ino, 'f', t2), { ino: f.ino, nlink: 2 });
        const after = await store.getattr(f.ino);
        assert.equal(after.nlink, 2);
        assert.deepEqual(after.ctime, t2);
        const pa = await store.getattr(a.ino);
        assert.deepEqual([pa.mtime, pa.ctime], [t2, t2]);
        assert.equal(await store.lookup(a.ino, 'f'), null);
        assert.equal(await store.pathOf(f.ino) !== null, true);

        assert.deepEqual(await store.unlink(b.ino, 'g', tick()), { ino: f.ino, nlink: 1 });
        assert.deepEqual(await store.listOrphans(), []);
        assert.deepEqual(await store.unlink(a.ino, 'h', tick()), { ino: f.ino, nlink: 0 });

        // The orphan lives on (an open handle may still use it) until purged.
        assert.equal(await nlink(f.ino), 0);
        assert.deepEqual(await store.listOrphans(), [f.ino]);
        assert.equal(await store.pathOf(f.ino), null);
        const report = await store.check();
        assert.equal(report.length, 1);
        assert.match(report[0], /^orphan:/);
        await expectCode(store.link(f.ino, a.ino, 'back', tick()), 'ENOENT');

        await store.purgeInode(f.ino);
        await expectCode(store.getattr(f.ino), 'ENOENT');
        assert.deepEqual(await store.listOrphans(), []);
        assert.deepEqual(await store.check(), []);
      });

      it('reports link and unlink errors', async () => {
        const d = await mkdir(ROOT_INO, 'd');
        const f = await mkfile(ROOT_INO, 'f');
        await mkfile(d.ino, 'taken');
        await expectCode(store.link(d.ino, ROOT_INO, 'dlink', tick()), 'EPERM');
        await expectCode(store.link(f.ino, d.ino, 'taken', tick()), 'EEXIST');
        await expectCode(store.link(987654, d.ino, 'x', tick()), 'ENOENT');
        await expectCode(store.link(f.ino, f.ino, 'x', tick()), 'ENOTDIR');
        await expectCode(store.link(f.ino, 987654, 'x', tick()), 'ENOENT');
        await expectCode(store.link(f.ino, d.ino, '..', tick()), 'EINVAL');
        await expectCode(store.unlink(ROOT_INO, 'missing', tick()), 'ENOENT');
        await expectCode(store.unlink(ROOT_INO, 'd', tick()), 'EISDIR');
        await expectCode(store.unlink(f.ino, 'x', tick()), 'ENOTDIR');
        await expectCode(store.purgeInode(f.ino), 'EINVAL');
        assert.equal(await nlink(f.ino), 1);
        assert.deepEqual(await problems(store), []);
      });

      it('refuses the link past the link limit with EMLINK', async () => {
        const d = await mkdir(ROOT_INO, 'd');
        const f = await mkfile(d.ino, 'f0');
        // Links go in concurrent batches: every engine must take concurrent links of one inode, and a
        // remote engine would otherwise spend minutes on 65,000 sequential round trips.
        for (let i = 1; i < linkMax; i += LINK_BATCH) {
          const n = Math.min(LINK_BATCH, linkMax - i);
          await Promise.all(Array.from({ length: n }, (_, k) => store.link(f.ino, d.ino, `f${i + k}`, tick())));
        }
        assert.equal(await nlink(f.ino), linkMax);
        await expectCode(store.link(f.ino, d.ino, 'one-too-many', tick()), 'EMLINK');
        assert.equal(await nlink(f.ino), linkMax);
        assert.equal(await store.lookup(d.ino, 'one-too-many'), null);
      });
    });

    describe('rmdir', () => {
      it('removes an empty directory and frees it at once', async () => {
        const p = await mkdir(ROOT_INO, 'p');
        const c = await mkdir(p.ino, 'c');
        assert.equal(await nlink(p.ino), 3);
        await store.setxattr(c.ino, 'user.x', Buffer.from('1'), 0, tick());
        const t = tick();
        await store.rmdir(p.ino, 'c', t);
        const pa = await store.getattr(p.ino);
        assert.deepEqual([pa.nlink, pa.mtime, pa.ctime], [2, t, t]);
        await expectCode(store.getattr(c.ino), 'ENOENT');
        assert.equal(await store.isAncestor(p.ino, c.ino), false);
        assert.equal(await store.lookup(p.ino, 'c'), null);
        assert.deepEqual(await store.listOrphans(), []);
        assert.deepEqual(await store.check(), []);
      });

      it('reports ENOTEMPTY, ENOTDIR, ENOENT and EINVAL', async () => {
        const p = await mkdir(ROOT_INO, 'p');
        await mkfile(p.ino, 'f');
        await expectCode(store.rmdir(ROOT_INO, 'p', tick()), 'ENOTEMPTY');
        await expectCode(store.rmdir(p.ino, 'f', tick()), 'ENOTDIR');
        await expectCode(store.rmdir(ROOT_INO, 'missing', tick()), 'ENOENT');
        await expectCode(store.rmdir(ROOT_INO, '.', tick()), 'EINVAL');
        await expectCode(store.rmdir(ROOT_INO, '..', tick()), 'EINVAL');
        const empty = await mkdir(p.ino, 'sub');
        await store.rmdir(p.ino, 'sub', tick());
        await expectCode(store.getattr(empty.ino), 'ENOENT');
        await expectCode(store.rmdir(ROOT_INO, 'p', tick()), 'ENOTEMPTY');
        assert.deepEqual(await problems(store), []);
      });
    });

    describe('rename', () => {
      it('renames within a directory and updates times', async () => {
        const f = await mkfile(ROOT_INO, 'old');
        const t = tick();
        assert.deepEqual(await store.rename(ROOT_INO, 'old', ROOT_INO, 'new', 0, t), {});
        assert.equal(await store.lookup(ROOT_INO, 'old'), null);
        const moved = await store.lookup(ROOT_INO, 'new');
        assert.equal(moved?.ino, f.ino);
        assert.deepEqual(moved?.ctime, t);
        const root = await store.getattr(ROOT_INO);
        assert.deepEqual([root.mtime, root.ctime, root.nlink], [t, t, 2]);
        assert.equal(await store.pathOf(f.ino), '/new');
      });

      it('replaces a file, returning the replaced inode and its remaining links', async () => {
        const a = await mkfile(ROOT_INO, 'a');
        const b = await mkfile(ROOT_INO, 'b');
        const r = await store.rename(ROOT_INO, 'a', ROOT_INO, 'b', 0, tick());
        assert.deepEqual(r.replaced, { ino: b.ino, nlink: 0, isDir: false });
        assert.equal((await store.lookup(ROOT_INO, 'b'))?.ino, a.ino);
        assert.deepEqual(await store.listOrphans(), [b.ino]);
        await store.purgeInode(b.ino);

        const c = await mkfile(ROOT_INO, 'c');
        await store.link(c.ino, ROOT_INO, 'c2', tick());
        const t = tick();
        const r2 = await store.rename(ROOT_INO, 'b', ROOT_INO, 'c', 0, t);
        assert.deepEqual(r2.replaced, { ino: c.ino, nlink: 1, isDir: false });
        const cAttr = await store.getattr(c.ino);
        assert.deepEqual([cAttr.nlink, cAttr.ctime], [1, t]);
        assert.deepEqual(await store.check(), []);
      });

      it('replaces an empty directory and fixes nlinks across parents', async () => {
        const p1 = await mkdir(ROOT_INO, 'p1');
        const p2 = await mkdir(ROOT_INO, 'p2');
        const src = await mkdir(p1.ino, 'src');
        const inner = await mkdir(src.ino, 'inner');
        const dst = await mkdir(p2.ino, 'dst');
        const t = tick();
        const r = await store.rename(p1.ino, 'src', p2.ino, 'dst', 0, t);
        assert.equal(r.replaced?.ino, dst.ino);
        assert.equal(r.replaced?.isDir, true);
        assert.equal(r.replaced?.nlink, 0);
        assert.equal((await store.lookup(p2.ino, 'dst'))?.ino, src.ino);
        assert.equal(await nlink(p1.ino), 2);
        assert.equal(await nlink(p2.ino), 3);
        assert.equal(await nlink(src.ino), 3);
        for (const p of [p1, p2]) {
          const a = await store.getattr(p.ino);
          assert.deepEqual([a.mtime, a.ctime], [t, t]);
        }
        assert.deepEqual((await store.getattr(src.ino)).ctime, t);
        assert.equal(await store.isAncestor(p2.ino, inner.ino), true);
        assert.equal(await store.isAncestor(p1.ino, inner.ino), false);
        assert.equal(await store.pathOf(inner.ino), '/p2/dst/inner');
        assert.deepEqual(await problems(store), []);
      });

      it('moves a deep subtree to a new parent in one step', async () => {
        const a = await mkdir(ROOT_INO, 'a');
        const b = await mkdir(a.ino, 'b');
        const c = await mkdir(b.ino, 'c');
        const d = await mkdir(c.ino, 'd');
        const f = await mkfile(d.ino, 'f');
        const x = await mkdir(ROOT_INO, 'x');
        const y = await mkdir(x.ino, 'y');
        await store.rename(a.ino, 'b', y.ino, 'b2', 0, tick());
        assert.equal(await nlink(a.ino), 2);
        assert.equal(await nlink(y.ino), 3);
        assert.equal(await nlink(b.ino), 3);
        for (const anc of [ROOT_INO, x.ino, y.ino, b.ino, c.ino, d.ino]) {
          assert.equal(await store.isAncestor(anc, d.ino), true, `${anc} above d`);
          assert.equal(await store.isAncestor(anc, f.ino), true, `${anc} above f`);
        }
        assert.equal(await store.isAncestor(a.ino, d.ino), false);
        assert.equal(await store.isAncestor(a.ino, f.ino), false);
        assert.equal(await store.isAncestor(d.ino, b.ino), false);
        assert.equal(await store.pathOf(f.ino), '/x/y/b2/c/d/f');
        assert.deepEqual(await store.check(), []);
      });

      it('enforces the type and emptiness rules', async () => {
        const d1 = await mkdir(ROOT_INO, 'd1');
        const d2 = await mkdir(ROOT_INO, 'd2');
        await mkfile(d2.ino, 'inside');
        await mkfile(ROOT_INO, 'f');
        await expectCode(store.rename(ROOT_INO, 'd1', ROOT_INO, 'd2', 0, tick()), 'ENOTEMPTY');
        await expectCode(store.rename(ROOT_INO, 'd1', ROOT_INO, 'f', 0, tick()), 'ENOTDIR');
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'd1', 0, tick()), 'EISDIR');
        await expectCode(store.rename(ROOT_INO, 'missing', ROOT_INO, 'x', 0, tick()), 'ENOENT');
        await expectCode(store.rename(987654, 'f', ROOT_INO, 'x', 0, tick()), 'ENOENT');
        await expectCode(store.rename(ROOT_INO, 'f', 987654, 'x', 0, tick()), 'ENOENT');
        const f = await store.lookup(ROOT_INO, 'f');
        await expectCode(store.rename(ROOT_INO, 'd1', f!.ino, 'x', 0, tick()), 'ENOTDIR');
        for (const bad of ['.', '..', '', 'a/b']) {
          await expectCode(store.rename(ROOT_INO, bad, ROOT_INO, 'x', 0, tick()), 'EINVAL');
          await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, bad, 0, tick()), 'EINVAL');
        }
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'y'.repeat(256), 0, tick()), 'ENAMETOOLONG');
        assert.equal(await nlink(ROOT_INO), 4);
        assert.equal((await store.lookup(ROOT_INO, 'd1'))?.ino, d1.ino);
        assert.deepEqual(await store.check(), []);
      });

      it('refuses to move a directory into itself or its subtree', async () => {
        const a = await mkdir(ROOT_INO, 'a');
        const b = await mkdir(a.ino, 'b');
        const c = await mkdir(b.ino, 'c');
        await expectCode(store.rename(ROOT_INO, 'a', a.ino, 'x', 0, tick()), 'EINVAL');
        await expectCode(store.rename(ROOT_INO, 'a', c.ino, 'x', 0, tick()), 'EINVAL');
        await expectCode(store.rename(a.ino, 'b', c.ino, 'x', RENAME_NOREPLACE, tick()), 'EINVAL');
        // The target is an ancestor of the source: it cannot be empty.
        await expectCode(store.rename(b.ino, 'c', ROOT_INO, 'a', 0, tick()), 'ENOTEMPTY');
        await expectCode(store.rename(b.ino, 'c', ROOT_INO, 'a', RENAME_EXCHANGE, tick()), 'EINVAL');
        await expectCode(store.rename(ROOT_INO, 'a', b.ino, 'c', RENAME_EXCHANGE, tick()), 'EINVAL');
        assert.equal(await store.pathOf(c.ino), '/a/b/c');
        assert.deepEqual(await store.check(), []);
      });

      it('does nothing when both names are the same inode', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.link(f.ino, ROOT_INO, 'g', tick());
        const before = await store.getattr(f.ino);
        const rootBefore = await store.getattr(ROOT_INO);
        assert.deepEqual(await store.rename(ROOT_INO, 'f', ROOT_INO, 'g', 0, tick()), {});
        assert.deepEqual(await store.rename(ROOT_INO, 'f', ROOT_INO, 'f', 0, tick()), {});
        assert.deepEqual(await store.rename(ROOT_INO, 'f', ROOT_INO, 'g', RENAME_EXCHANGE, tick()), {});
        const d = await mkdir(ROOT_INO, 'd');
        assert.deepEqual(await store.rename(ROOT_INO, 'd', ROOT_INO, 'd', 0, tick()), {});
        assert.equal((await store.lookup(ROOT_INO, 'f'))?.ino, f.ino);
        assert.equal((await store.lookup(ROOT_INO, 'g'))?.ino, f.ino);
        assert.equal((await store.lookup(ROOT_INO, 'd'))?.ino, d.ino);
        assert.deepEqual(await store.getattr(f.ino), before);
        assert.equal((await store.getattr(ROOT_INO)).nlink, rootBefore.nlink + 1);
        assert.deepEqual(await store.check(), []);
      });

      it('honours RENAME_NOREPLACE and rejects bad flags', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const g = await mkfile(ROOT_INO, 'g');
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'g', RENAME_NOREPLACE, tick()), 'EEXIST');
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'f', RENAME_NOREPLACE, tick()), 'EEXIST');
        assert.equal((await store.lookup(ROOT_INO, 'g'))?.ino, g.ino);
        await expectCode(
          store.rename(ROOT_INO, 'f', ROOT_INO, 'g', RENAME_NOREPLACE | RENAME_EXCHANGE, tick()), 'EINVAL');
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'h', 0x100, tick()), 'EINVAL');
        assert.deepEqual(await store.rename(ROOT_INO, 'f', ROOT_INO, 'h', RENAME_NOREPLACE, tick()), {});
        assert.equal((await store.lookup(ROOT_INO, 'h'))?.ino, f.ino);
        assert.equal(await store.lookup(ROOT_INO, 'f'), null);
        assert.deepEqual(await store.check(), []);
      });

      it('RENAME_EXCHANGE needs both names and swaps files', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const d = await mkdir(ROOT_INO, 'd');
        const g = await mkfile(d.ino, 'g');
        await expectCode(store.rename(ROOT_INO, 'f', ROOT_INO, 'missing', RENAME_EXCHANGE, tick()), 'ENOENT');
        await expectCode(store.rename(ROOT_INO, 'missing', ROOT_INO, 'f', RENAME_EXCHANGE, tick()), 'ENOENT');
        const t = tick();
        assert.deepEqual(await store.rename(ROOT_INO, 'f', d.ino, 'g', RENAME_EXCHANGE, t), {});
        assert.equal((await store.lookup(ROOT_INO, 'f'))?.ino, g.ino);
        assert.equal((await store.lookup(d.ino, 'g'))?.ino, f.ino);
        for (const ino of [f.ino, g.ino]) {
          const a = await store.getattr(ino);
          assert.deepEqual([a.nlink, a.ctime], [1, t]);
        }
        for (const ino of [ROOT_INO, d.ino]) assert.deepEqual((await store.getattr(ino)).mtime, t);
        assert.deepEqual(await store.check(), []);
      });

      it('RENAME_EXCHANGE swaps a directory and a file across directories, fixing nlink and closure', async () => {
        const p1 = await mkdir(ROOT_INO, 'p1');
        const p2 = await mkdir(ROOT_INO, 'p2');
        const d = await mkdir(p1.ino, 'd');
        const sub = await mkdir(d.ino, 'sub');
        const x = await mkfile(sub.ino, 'x');
        const f = await mkfile(p2.ino, 'f');
        assert.deepEqual([await nlink(p1.ino), await nlink(p2.ino)], [3, 2]);
        await store.rename(p1.ino, 'd', p2.ino, 'f', RENAME_EXCHANGE, tick());
        assert.equal((await store.lookup(p1.ino, 'd'))?.ino, f.ino);
        assert.equal((await store.lookup(p2.ino, 'f'))?.ino, d.ino);
        assert.deepEqual([await nlink(p1.ino), await nlink(p2.ino)], [2, 3]);
        assert.equal(await store.isAncestor(p2.ino, sub.ino), true);
        assert.equal(await store.isAncestor(p2.ino, d.ino), true);
        assert.equal(await store.isAncestor(p2.ino, x.ino), true);
        assert.equal(await store.isAncestor(p1.ino, sub.ino), false);
        assert.equal(await store.isAncestor(p1.ino, x.ino), false);
        assert.equal(await store.isAncestor(p1.ino, f.ino), true);
        assert.equal(await store.isAncestor(p2.ino, f.ino), false);
        assert.equal(await store.pathOf(x.ino), '/p2/f/sub/x');
        assert.equal(await store.pathOf(f.ino), '/p1/d');
        assert.deepEqual(await store.check(), []);

        // And back the other way, file over dir position.
        await store.rename(p1.ino, 'd', p2.ino, 'f', RENAME_EXCHANGE, tick());
        assert.equal(await store.pathOf(x.ino), '/p1/d/sub/x');
        assert.deepEqual([await nlink(p1.ino), await nlink(p2.ino)], [3, 2]);
        assert.deepEqual(await store.check(), []);
      });

      it('RENAME_EXCHANGE swaps two directories across and within parents', async () => {
        const p1 = await mkdir(ROOT_INO, 'p1');
        const p2 = await mkdir(p1.ino, 'p2');
        const a = await mkdir(p1.ino, 'a');
        const aa = await mkdir(a.ino, 'aa');
        const b = await mkdir(p2.ino, 'b');
        const bb = await mkfile(b.ino, 'bb');
        await store.rename(p1.ino, 'a', p2.ino, 'b', RENAME_EXCHANGE, tick());
        assert.equal(await store.pathOf(aa.ino), '/p1/p2/b/aa');
        assert.equal(await store.pathOf(bb.ino), '/p1/a/bb');
        assert.deepEqual([await nlink(p1.ino), await nlink(p2.ino)], [4, 3]);
        assert.equal(await store.isAncestor(p2.ino, aa.ino), true);
        assert.equal(await store.isAncestor(p2.ino, b.ino), false);
        await store.rename(p1.ino, 'a', p1.ino, 'p2', RENAME_EXCHANGE, tick());
        assert.equal(await store.pathOf(aa.ino), '/p1/a/b/aa');
        assert.equal(await store.pathOf(bb.ino), '/p1/p2/bb');
        assert.deepEqual(await store.check(), []);
      });
    });

    describe('readdir', () => {
      it('pages through 5,000 entries with any page size, in a stable order, without misses', async () => {
        const d = await mkdir(ROOT_INO, 'big');
        const made = new Map<string, InodeAttr>();
        for (let i = 0; i < 5000; i++) {
          const n = `e${(i * 7919) % 5000}-${i % 3 === 0 ? 'ü' : 'x'}`;
          made.set(n, i % 10 === 0 ? await mkdir(d.ino, n) : await mkfile(d.ino, n));
        }
        let reference: string[] | undefined;
        for (const size of [1, 7, 100, 4999, 5000, 5001]) {
          const all = size === 1 ? await listAll(store, d.ino, 1) : await listAll(store, d.ino, size);
          const names = all.map((e) => e.name);
          assert.equal(names.length, 5000, `page size ${size}`);
          assert.equal(new Set(names).size, 5000);
          for (const e of all) {
            assert.equal(e.ino, made.get(e.name)?.ino);
            assert.equal(e.mode & S_IFMT, made.get(e.name)!.mode & S_IFMT);
          }
          if (reference) assert.deepEqual(names, reference);
          reference = names;
        }
        const dirs = (await listAll(store, d.ino)).filter((e) => (e.mode & S_IFMT) === S_IFDIR).length;
        assert.equal(dirs, 500);
        assert.equal(await nlink(d.ino), 502);
      });

      it('keeps its place when entries come and go between pages', async () => {
        const d = await mkdir(ROOT_INO, 'd');
        for (let i = 0; i < 50; i++) await mkfile(d.ino, `n${String(i).padStart(2, '0')}`);
        const seen: string[] = [];
        let cursor: string | null = null;
        let round = 0;
        do {
          const page: Awaited<ReturnType<MetaStore['readdir']>> = await store.readdir(d.ino, cursor, 6);
          seen.push(...page.entries.map((e) => e.name));
          // Remove the entry the cursor points at and add a fresh one: stable entries are still seen once.
          const last = page.entries[page.entries.length - 1];
          if (last) await store.unlink(d.ino, last.name, tick());
          await mkfile(d.ino, `zz-new-${round++}`);
          cursor = page.next;
        } while (cursor !== null);
        const stable = Array.from({ length: 50 }, (_, i) => `n${String(i).padStart(2, '0')}`);
        for (const n of stable) assert.equal(seen.filter((s) => s === n).length, 1, n);
        assert.equal(new Set(seen).size, seen.length);
      });

      it('withAttrs: every entry carries exactly what getattr gives, on every page; plain pages carry none', async () => {
        const d = await mkdir(ROOT_INO, 'plus');
        const other = await mkdir(ROOT_INO, 'other');
        for (let i = 0; i < 40; i++) {
          const n = `f${String(i).padStart(2, '0')}`;
          const f = i % 5 === 0 ? await mkdir(d.ino, n) : await mkfile(d.ino, n, 0o600 + i);
          if (i % 3 === 0 && i % 5 !== 0) await store.truncate(f.ino, 1000 + i, tick());
          if (i % 7 === 1) await store.setattr(f.ino, { uid: 4000 + i, atime: tick(), ctime: tick() });
        }
        await store.create(d.ino, 'link', { mode: S_IFLNK | 0o777, uid: 1, gid: 2, now: tick(), symlinkTarget: '../target' });
        await store.create(d.ino, 'fifo', { mode: S_IFIFO | 0o644, uid: 1, gid: 2, now: tick() });
        const hard = await mkfile(other.ino, 'hard');
        await store.link(hard.ino, d.ino, 'hard-too', tick()); // nlink 2 shows through the second name
        const seen: string[] = [];
        for (const size of [1, 7, 100]) {
          seen.length = 0;
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<MetaStore['readdir']>> = await store.readdir(d.ino, cursor, size, true);
            assert.ok(page.entries.length <= size);
            for (const e of page.entries) {
              const want = await store.getattr(e.ino);
              assert.deepEqual(e.attr, want, `${e.name} (page size ${size})`);
              assert.deepEqual([e.ino, e.mode], [want.ino, want.mode]);
              seen.push(e.name);
            }
            cursor = page.next;
          } while (cursor !== null);
          assert.equal(seen.length, 43);
        }
        assert.deepEqual(seen, (await listAll(store, d.ino)).map((e) => e.name), 'same names in the same order as plain pages');
        const hardEntry = (await store.readdir(d.ino, null, 100, true)).entries.find((e) => e.name === 'hard-too');
        assert.equal(hardEntry?.attr?.nlink, 2);
        const plain = await store.readdir(d.ino, null, 100);
        assert.ok(plain.entries.every((e) => e.attr === undefined), 'a plain page has no attributes');
        assert.deepEqual(await store.readdir(other.ino, null, 10, false), { entries: [{ name: 'hard', ino: hard.ino, mode: hard.mode }], next: null });
        const empty = await mkdir(ROOT_INO, 'empty');
        assert.deepEqual(await store.readdir(empty.ino, null, 10, true), { entries: [], next: null });
        await expectCode(store.readdir(hard.ino, null, 10, true), 'ENOTDIR');
        await expectCode(store.readdir(987654, null, 10, true), 'ENOENT');
      });

      it('lists an empty directory and reports errors', async () => {
        const d = await mkdir(ROOT_INO, 'd');
        assert.deepEqual(await store.readdir(d.ino, null, 10), { entries: [], next: null });
        const f = await mkfile(ROOT_INO, 'f');
        await expectCode(store.readdir(f.ino, null, 10), 'ENOTDIR');
        await expectCode(store.readdir(987654, null, 10), 'ENOENT');
        const page = await store.readdir(ROOT_INO, null, 1);
        assert.equal(page.entries.length, 1);
        assert.notEqual(page.next, null);
        const rest = await store.readdir(ROOT_INO, page.next, 10);
        assert.deepEqual(rest.next, null);
        assert.deepEqual(
          [...page.entries, ...rest.entries].map((e) => [e.name, e.ino]).sort(),
          [['d', d.ino], ['f', f.ino]],
        );
      });
    });

    describe('setattr', () => {
      it('changes only the given fields, keeps the file type, and always sets ctime', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const c1 = tick();
        const a1 = await store.setattr(f.ino, { mode: S_IFDIR | 0o4711, ctime: c1 });
        assert.equal(a1.mode, S_IFREG | 0o4711);
        assert.deepEqual([a1.uid, a1.gid, a1.mtime, a1.atime, a1.ctime], [f.uid, f.gid, f.mtime, f.atime, c1]);
        const at = tick();
        const mt = tick();
        const c2 = tick();
        const a2 = await store.setattr(f.ino, { uid: 42, gid: 43, atime: at, mtime: mt, ctime: c2 });
        assert.deepEqual([a2.mode, a2.uid, a2.gid, a2.atime, a2.mtime, a2.ctime, a2.crtime],
          [S_IFREG | 0o4711, 42, 43, at, mt, c2, f.crtime]);
        assert.deepEqual(await store.getattr(f.ino), a2);
        await expectCode(store.setattr(987654, { ctime: tick() }), 'ENOENT');
      });
    });

    describe('xattrs', () => {
      it('sets, gets, lists and removes with CREATE/REPLACE semantics', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const bin = Buffer.from([0, 255, 1, 254, 0]);
        const t1 = tick();
        await store.setxattr(f.ino, 'user.b', bin, 0, t1);
        assert.deepEqual((await store.getattr(f.ino)).ctime, t1);
        await store.setxattr(f.ino, 'user.a', Buffer.alloc(0), XATTR_CREATE, tick());
        assert.deepEqual(await store.getxattr(f.ino, 'user.b'), bin);
        assert.equal((await store.getxattr(f.ino, 'user.a')).length, 0);
        assert.deepEqual((await store.listxattr(f.ino)).sort(), ['user.a', 'user.b']);

        await expectCode(store.setxattr(f.ino, 'user.a', Buffer.from('x'), XATTR_CREATE, tick()), 'EEXIST');
        await expectCode(store.setxattr(f.ino, 'user.c', Buffer.from('x'), XATTR_REPLACE, tick()), 'ENODATA');
        await store.setxattr(f.ino, 'user.a', Buffer.from('new'), XATTR_REPLACE, tick());
        assert.equal((await store.getxattr(f.ino, 'user.a')).toString(), 'new');
        await store.setxattr(f.ino, 'user.a', Buffer.from('newer'), 0, tick());
        assert.equal((await store.getxattr(f.ino, 'user.a')).toString(), 'newer');

        const t2 = tick();
        await store.removexattr(f.ino, 'user.a', t2);
        assert.deepEqual((await store.getattr(f.ino)).ctime, t2);
        await expectCode(store.getxattr(f.ino, 'user.a'), 'ENODATA');
        await expectCode(store.removexattr(f.ino, 'user.a', tick()), 'ENODATA');
        assert.deepEqual(await store.listxattr(f.ino), ['user.b']);
        await expectCode(store.getxattr(987654, 'user.a'), 'ENOENT');
        await expectCode(store.setxattr(987654, 'user.a', bin, 0, tick()), 'ENOENT');
        await expectCode(store.listxattr(987654), 'ENOENT');
        await expectCode(store.setxattr(f.ino, '', bin, 0, tick()), 'ERANGE');
        await expectCode(store.setxattr(f.ino, 'user.' + 'n'.repeat(251), bin, 0, tick()), 'ERANGE');
        await expectCode(store.setxattr(f.ino, 'user.big', Buffer.alloc(65537), 0, tick()), 'E2BIG');
        await expectCode(store.setxattr(f.ino, 'user.a', bin, XATTR_CREATE | XATTR_REPLACE, tick()), 'EINVAL');
        await store.setxattr(f.ino, 'user.' + 'n'.repeat(250), Buffer.alloc(65536, 1), 0, tick());
        assert.equal((await store.getxattr(f.ino, 'user.' + 'n'.repeat(250))).length, 65536);
        await store.removexattr(f.ino, 'user.' + 'n'.repeat(250), tick());

        const d = await mkdir(ROOT_INO, 'd');
        await store.setxattr(d.ino, 'user.dir', Buffer.from('v'), 0, tick());
        assert.deepEqual(await store.listxattr(d.ino), ['user.dir']);
        assert.deepEqual(await store.listxattr(ROOT_INO), []);

        await store.unlink(ROOT_INO, 'f', tick());
        await store.purgeInode(f.ino);
        assert.deepEqual(await store.check(), []);
      });
    });

    describe('pathOf and isAncestor', () => {
      it('answers for the root, directories, files, hard links and orphans', async () => {
        assert.equal(await store.pathOf(ROOT_INO), '/');
        const a = await mkdir(ROOT_INO, 'a');
        const b = await mkdir(a.ino, 'b');
        const f = await mkfile(b.ino, 'f');
        const other = await mkdir(ROOT_INO, 'other');
        assert.equal(await store.pathOf(b.ino), '/a/b');
        assert.equal(await store.pathOf(f.ino), '/a/b/f');
        await expectCode(store.pathOf(987654), 'ENOENT');
        assert.equal(await store.isAncestor(ROOT_INO, ROOT_INO), true);
        assert.equal(await store.isAncestor(b.ino, b.ino), true);
        assert.equal(await store.isAncestor(ROOT_INO, f.ino), true);
        assert.equal(await store.isAncestor(a.ino, f.ino), true);
        assert.equal(await store.isAncestor(b.ino, f.ino), true);
        assert.equal(await store.isAncestor(b.ino, a.ino), false);
        assert.equal(await store.isAncestor(other.ino, f.ino), false);
        assert.equal(await store.isAncestor(f.ino, b.ino), false);
        await store.link(f.ino, other.ino, 'f2', tick());
        assert.equal(await store.isAncestor(other.ino, f.ino), true, 'a hard link puts a file under two directories');
        await store.unlink(b.ino, 'f', tick());
        assert.equal(await store.pathOf(f.ino), '/other/f2');
        assert.equal(await store.isAncestor(a.ino, f.ino), false);
        await store.unlink(other.ino, 'f2', tick());
        assert.equal(await store.pathOf(f.ino), null);
      });
    });

    describe('slices, truncate and blocks', () => {
      const A = blockId('A');
      const B = blockId('B');
      const C = blockId('C');
      const refs = async (id: string) => (await store.getBlock(id))?.refs;

      it('commits slices, records blocks, and reads chunks back in write order', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const t = tick();
        const attr = await store.commitSlices(f.ino, [
          { chunk: 0, slices: [slice(A, 0, 1000), slice(B, 500, 1000)] },
          { chunk: 2, slices: [slice(A, 100, 100, 1000)] },
        ], [blk(A, 2000), blk(B, 1000)], 2 * chunkSize + 200, t);
        assert.equal(attr.size, 2 * chunkSize + 200);
        assert.deepEqual([attr.mtime, attr.ctime], [t, t]);
        assert.deepEqual(await store.getattr(f.ino), attr);
        assert.deepEqual(await store.getBlock(A), { id: A, size: 2000, storedSize: 2028, refs: 2 });
        assert.equal(await refs(B), 1);

        // A later commit appends to a chunk; minSize below the size keeps the size.
        const t2 = tick();
        const attr2 = await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(B, 0, 10, 990)] }], [], 10, t2);
        assert.equal(attr2.size, 2 * chunkSize + 200);
        assert.deepEqual(attr2.mtime, t2);
        const chunks = await store.readChunks(f.ino, 0, 5);
        assert.deepEqual([...chunks.keys()].sort(), [0, 2]);
        assert.deepEqual(chunks.get(0), [slice(A, 0, 1000), slice(B, 500, 1000), slice(B, 0, 10, 990)]);
        assert.deepEqual(chunks.get(2), [slice(A, 100, 100, 1000)]);
        assert.deepEqual([...(await store.readChunks(f.ino, 1, 1)).keys()], []);
        assert.deepEqual([...(await store.readChunks(f.ino, 2, 9)).keys()], [2]);
        assert.equal(await refs(B), 2);
        assert.deepEqual(await store.inodesUsingBlock(A), [f.ino]);
        assert.deepEqual(await store.check(), []);
      });

      it('commits an explicit ctime with the slices (a later attribute change), and mtime alone otherwise', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const mtime = tick();
        const ctime = tick();
        const attr = await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 0, 100)] }], [blk(A, 100)], 100, mtime, ctime);
        assert.deepEqual([attr.mtime, attr.ctime, attr.size], [mtime, ctime, 100]);
        assert.deepEqual(await store.getattr(f.ino), attr);
        // Only new blocks (data truncated away before its commit): the times still apply.
        const m2 = tick();
        const c2 = tick();
        const attr2 = await store.commitSlices(f.ino, [], [blk(B, 10)], 0, m2, c2);
        assert.deepEqual([attr2.mtime, attr2.ctime, attr2.size], [m2, c2, 100]);
        assert.deepEqual(await store.getattr(f.ino), attr2);
        // Without one, ctime follows mtime.
        const m3 = tick();
        const attr3 = await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 0, 50)] }], [], 50, m3);
        assert.deepEqual([attr3.mtime, attr3.ctime], [m3, m3]);
        assert.deepEqual(await store.getattr(f.ino), attr3);
        await expectCode(store.commitSlices(f.ino, [], [], 0, tick(), { sec: 1, nsec: 1_000_000_000 }), 'EINVAL');
        assert.deepEqual(await store.getattr(f.ino), attr3);
      });

      it('fails with EIO on an unrecorded block and changes nothing', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 0, 10)] }], [blk(A, 10)], 10, tick());
        const before = await store.getattr(f.ino);
        await expectCode(store.commitSlices(f.ino, [
          { chunk: 0, slices: [slice(A, 0, 10)] },
          { chunk: 1, slices: [slice(B, 0, 10)] },
        ], [], chunkSize + 10, tick()), 'EIO');
        assert.deepEqual(await store.getattr(f.ino), before);
        assert.equal(await refs(A), 1);
        assert.equal(await store.getBlock(B), null);
        assert.deepEqual((await store.readChunks(f.ino, 0, 3)).get(0), [slice(A, 0, 10)]);
        const d = await mkdir(ROOT_INO, 'd');
        await expectCode(store.commitSlices(d.ino, [], [], 0, tick()), 'EISDIR');
        await expectCode(store.commitSlices(987654, [], [], 0, tick()), 'ENOENT');
        assert.deepEqual(await store.check(), []);
      });

      it('truncate trims and drops slices, keeping block refs and zero_since exact', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.commitSlices(f.ino, [
          { chunk: 0, slices: [slice(A, 0, 1000), slice(B, 500, 1000)] },
          { chunk: 1, slices: [slice(C, 0, chunkSize)] },
          { chunk: 2, slices: [slice(A, 100, 100, 1000)] },
        ], [blk(A, 2000), blk(B, 1000), blk(C, chunkSize)], 2 * chunkSize + 200, tick());
        assert.deepEqual([await refs(A), await refs(B), await refs(C)], [2, 1, 1]);
        const startMs = Date.now();

        let t = tick();
        let attr = await store.truncate(f.ino, chunkSize + 10, t);
        assert.deepEqual([attr.size, attr.mtime, attr.ctime], [chunkSize + 10, t, t]);
        let chunks = await store.readChunks(f.ino, 0, 10);
        assert.deepEqual([...chunks.keys()].sort(), [0, 1]);
        assert.deepEqual(chunks.get(1), [slice(C, 0, 10)]);
        assert.deepEqual([await refs(A), await refs(B), await refs(C)], [1, 1, 1]);
        assert.deepEqual(await store.unreferencedBlocks(Date.now() + 60_000, 10), []);
        assert.deepEqual(await store.check(), []);

        t = tick();
        attr = await store.truncate(f.ino, 800, t);
        assert.equal(attr.size, 800);
        chunks = await store.readChunks(f.ino, 0, 10);
        assert.deepEqual([...chunks.keys()], [0]);
        assert.deepEqual(chunks.get(0), [slice(A, 0, 800), slice(B, 500, 300)]);
        assert.deepEqual([await refs(A), await refs(B), await refs(C)], [1, 1, 0]);
        assert.deepEqual(await store.unreferencedBlocks(Date.now() + 60_000, 10), [C]);
        assert.deepEqual(await store.unreferencedBlocks(startMs - 60_000, 10), [], 'zero_since is when refs hit 0');

        await store.truncate(f.ino, 500, tick());
        assert.deepEqual((await store.readChunks(f.ino, 0, 0)).get(0), [slice(A, 0, 500)]);
        assert.deepEqual([await refs(A), await refs(B)], [1, 0]);

        // Growing leaves a hole.
        attr = await store.truncate(f.ino, 3 * chunkSize, tick());
        assert.equal(attr.size, 3 * chunkSize);
        assert.deepEqual([...(await store.readChunks(f.ino, 0, 10)).keys()], [0]);
        assert.equal(await refs(A), 1);

        await store.truncate(f.ino, 0, tick());
        assert.equal((await store.readChunks(f.ino, 0, 10)).size, 0);
        assert.deepEqual([await refs(A), await refs(B), await refs(C)], [0, 0, 0]);
        assert.deepEqual((await store.unreferencedBlocks(Date.now() + 60_000, 10)).sort(), [A, B, C].sort());
        assert.equal((await store.unreferencedBlocks(Date.now() + 60_000, 2)).length, 2);
        assert.deepEqual(await store.check(), []);

        // A block referenced again stops being unreferenced.
        await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(B, 0, 5)] }], [], 5, tick());
        assert.equal(await refs(B), 1);
        assert.deepEqual((await store.unreferencedBlocks(Date.now() + 60_000, 10)).sort(), [A, C].sort());

        const d = await mkdir(ROOT_INO, 'd');
        await expectCode(store.truncate(d.ino, 0, tick()), 'EISDIR');
        await expectCode(store.truncate(987654, 0, tick()), 'ENOENT');
        assert.deepEqual(await store.check(), []);
      });

      it('truncate at a chunk boundary drops exactly the chunks past it', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.commitSlices(f.ino, [
          { chunk: 0, slices: [slice(A, chunkSize - 10, 10)] },
          { chunk: 1, slices: [slice(B, 0, 10)] },
        ], [blk(A, 10), blk(B, 10)], chunkSize + 10, tick());
        await store.truncate(f.ino, chunkSize, tick());
        const chunks = await store.readChunks(f.ino, 0, 5);
        assert.deepEqual(chunks.get(0), [slice(A, chunkSize - 10, 10)]);
        assert.equal(chunks.has(1), false);
        assert.deepEqual([await refs(A), await refs(B)], [1, 0]);
      });

      it('replaceChunk swaps a chunk only when the slice count still matches', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.commitSlices(f.ino, [
          { chunk: 3, slices: [slice(A, 0, 100), slice(B, 50, 100), slice(A, 10, 5, 200)] },
        ], [blk(A, 300), blk(B, 100)], 3 * chunkSize + 150, tick());
        const before = await store.getattr(f.ino);
        assert.equal(await store.replaceChunk(f.ino, 3, 2, [slice(C, 0, 150)], [blk(C, 150)]), false);
        assert.equal(await store.getBlock(C), null, 'a refused replaceChunk records nothing');
        assert.equal((await store.readChunks(f.ino, 3, 3)).get(3)?.length, 3);
        assert.deepEqual([await refs(A), await refs(B)], [2, 1]);

        assert.equal(await store.replaceChunk(f.ino, 3, 3, [slice(C, 0, 150), slice(A, 0, 5)], [blk(C, 150)]), true);
        assert.deepEqual((await store.readChunks(f.ino, 3, 3)).get(3), [slice(C, 0, 150), slice(A, 0, 5)]);
        assert.deepEqual([await refs(A), await refs(B), await refs(C)], [1, 0, 1]);
        assert.deepEqual(await store.unreferencedBlocks(Date.now() + 60_000, 10), [B]);
        assert.equal((await store.getattr(f.ino)).size, before.size);
        assert.equal(await store.replaceChunk(f.ino, 7, 0, [slice(A, 0, 1)], []), true);
        assert.deepEqual((await store.readChunks(f.ino, 7, 7)).get(7), [slice(A, 0, 1)]);
        assert.equal(await refs(A), 2);
        assert.deepEqual(await store.check(), []);
      });

      it('allocated is the sum of slice lengths through commit, truncate, replaceChunk and purge', async () => {
        const d = await mkdir(ROOT_INO, 'd');
        const l = await store.create(ROOT_INO, 'l', { mode: S_IFLNK | 0o777, uid: 0, gid: 0, now: tick(), symlinkTarget: 'some/target' });
        const f = await mkfile(ROOT_INO, 'f');
        assert.deepEqual([d.allocated, l.allocated, f.allocated], [0, 0, 0]);
        assert.equal((await store.getattr(ROOT_INO)).allocated, 0);
        const allocated = async () => (await store.getattr(f.ino)).allocated;

        // A sparse file: size 3 chunks + 100, data 10 + 100 bytes; an overlapping slice counts until compaction.
        let attr = await store.commitSlices(f.ino, [
          { chunk: 0, slices: [slice(A, 0, 10)] },
          { chunk: 3, slices: [slice(B, 0, 100)] },
        ], [blk(A, 1000), blk(B, 1000)], 3 * chunkSize + 100, tick());
        assert.equal(attr.allocated, 110, 'commitSlices returns the new figure');
        assert.equal(await allocated(), 110);
        attr = await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 5, 20, 100)] }], [], 0, tick());
        assert.equal(attr.allocated, 130);
        assert.deepEqual(await store.check(), []);

        // replaceChunk: new sum minus old sum (here compaction of chunk 0 to one 25-byte slice).
        assert.equal(await store.replaceChunk(f.ino, 0, 2, [slice(C, 0, 25)], [blk(C, 25)]), true);
        assert.equal(await allocated(), 125);
        assert.deepEqual(await store.check(), []);

        // truncate: trims a crossing slice, drops whole chunks; growing adds nothing.
        attr = await store.truncate(f.ino, 3 * chunkSize + 40, tick());
        assert.equal(attr.allocated, 65, 'truncate returns the new figure');
        assert.equal(await allocated(), 65);
        attr = await store.truncate(f.ino, 20, tick());
        assert.equal(attr.allocated, 20);
        attr = await store.truncate(f.ino, 5 * chunkSize, tick());
        assert.equal(attr.allocated, 20);
        assert.equal(attr.size, 5 * chunkSize);
        assert.deepEqual(await store.check(), []);

        // Hard links share the figure; purge of the orphan leaves check() clean.
        await store.link(f.ino, ROOT_INO, 'f2', tick());
        assert.equal((await store.lookup(ROOT_INO, 'f2'))?.allocated, 20);
        await store.unlink(ROOT_INO, 'f', tick());
        await store.unlink(ROOT_INO, 'f2', tick());
        await store.purgeInode(f.ino);
        assert.deepEqual(await store.check(), []);
      });

      it('forgets only unreferenced blocks, lists blocks in pages, finds users of a block', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const g = await mkfile(ROOT_INO, 'g');
        const ids = Array.from({ length: 25 }, (_, i) => blockId(`list-${i}`));
        await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(ids[0], 0, 10), slice(ids[1], 10, 10)] }],
          ids.map((id) => blk(id, 100)), 20, tick());
        await store.commitSlices(g.ino, [{ chunk: 0, slices: [slice(ids[0], 0, 10)] }], [], 10, tick());
        assert.deepEqual((await store.inodesUsingBlock(ids[0])).sort((x, y) => x - y), [f.ino, g.ino].sort((x, y) => x - y));
        assert.deepEqual(await store.inodesUsingBlock(ids[1]), [f.ino]);
        assert.deepEqual(await store.inodesUsingBlock(ids[2]), []);

        const listed: string[] = [];
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<MetaStore['listBlocks']>> = await store.listBlocks(cursor, 4);
          assert.ok(page.blocks.length <= 4);
          for (const b of page.blocks) {
            listed.push(b.id);
            assert.equal(b.size, 100);
            assert.equal(b.refs, b.id === ids[0] ? 2 : b.id === ids[1] ? 1 : 0);
          }
          cursor = page.next;
        } while (cursor !== null);
        assert.deepEqual([...listed].sort(), [...ids].sort());

        const unref = await store.unreferencedBlocks(Date.now() + 60_000, 100);
        assert.deepEqual([...unref].sort(), ids.slice(2).sort());
        const forgotten = await store.forgetBlocks([ids[0], ids[1], ids[2], ids[3], blockId('never-recorded')]);
        assert.deepEqual(forgotten.sort(), [ids[2], ids[3]].sort());
        assert.equal(await store.getBlock(ids[2]), null);
        assert.equal(await refs(ids[0]), 2);
        assert.equal((await store.unreferencedBlocks(Date.now() + 60_000, 100)).length, 21);
        assert.deepEqual(await store.check(), []);
      });

      it('purgeInode drops the slices, refs, xattrs of an orphan', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 0, 10), slice(A, 10, 10, 10)] }], [blk(A, 20)], 20, tick());
        await store.setxattr(f.ino, 'user.k', Buffer.from('v'), 0, tick());
        assert.equal(await refs(A), 2);
        await store.unlink(ROOT_INO, 'f', tick());
        assert.equal(await refs(A), 2, 'an orphan keeps its data');
        await store.purgeInode(f.ino);
        assert.equal(await refs(A), 0);
        assert.deepEqual(await store.inodesUsingBlock(A), []);
        await expectCode(store.readChunks(f.ino, 0, 0), 'ENOENT');
        assert.deepEqual(await store.check(), []);
      });

      it('stats adds up inodes, sizes and blocks', async () => {
        const f = await mkfile(ROOT_INO, 'f');
        const g = await mkfile(ROOT_INO, 'g');
        await mkdir(ROOT_INO, 'd');
        await store.create(ROOT_INO, 'l', { mode: S_IFLNK | 0o777, uid: 0, gid: 0, now: tick(), symlinkTarget: 'f' });
        await store.commitSlices(f.ino, [{ chunk: 0, slices: [slice(A, 0, 100), slice(B, 50, 30)] }],
          [blk(A, 100), blk(B, 40)], 150, tick());
        await store.commitSlices(g.ino, [{ chunk: 1, slices: [slice(A, 0, 60, 40)] }], [], chunkSize + 60, tick());
        await store.truncate(g.ino, chunkSize + 70, tick());
        await mkfile(ROOT_INO, 'o');
        await store.unlink(ROOT_INO, 'o', tick());
        assert.deepEqual(await store.stats(), {
          inodes: 6, // root, f, g, d, l and the orphan o
          logicalBytes: 150 + chunkSize + 70, // regular files only
          referencedBytes: 100 + 30 + 60,
          blocks: 2,
          blockBytes: 140,
          storedBytes: 140 + 2 * 28,
        });
      });
    });

    describe('consistency', () => {
      it('check() stays clean and listings match a model after a random mix of operations', async () => {
        let seed = 12345;
        const rand = (n: number) => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed % n;
        };
        // Model: directory ino -> (name -> ino); kinds of inodes.
        const model = new Map<number, Map<string, number>>([[ROOT_INO, new Map()]]);
        const isDir = new Set<number>([ROOT_INO]);
        const names = ['a', 'b', 'c', 'd', 'e'];
        const blocks = [blockId('r1'), blockId('r2'), blockId('r3')];
        const pickDir = () => [...model.keys()][rand(model.size)];
        const codes = new Map<string, number>();
        for (let i = 0; i < 700; i++) {
          const p = pickDir();
          const q = pickDir();
          const n = names[rand(names.length)];
          const m = names[rand(names.length)];
          const op = rand(9);
          try {
            if (op === 0) {
              const a = await mkdir(p, n);
              model.get(p)!.set(n, a.ino);
              model.set(a.ino, new Map());
              isDir.add(a.ino);
            } else if (op === 1) {
              const a = await mkfile(p, n);
              model.get(p)!.set(n, a.ino);
            } else if (op === 2) {
              const target = model.get(p)!.get(n);
              await store.link(target ?? 987654, q, m, tick());
              model.get(q)!.set(m, target!);
            } else if (op === 3) {
              const r = await store.unlink(p, n, tick());
              model.get(p)!.delete(n);
              if (r.nlink === 0 && rand(2) === 0) await store.purgeInode(r.ino);
            } else if (op === 4) {
              const ino = model.get(p)!.get(n);
              await store.rmdir(p, n, tick());
              model.get(p)!.delete(n);
              model.delete(ino!);
            } else if (op === 5 || op === 6) {
              const flags = [0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE][rand(4)];
              const r = await store.rename(p, n, q, m, flags, tick());
              const src = model.get(p)!.get(n)!;
              const dst = model.get(q)!.get(m);
              if (dst !== src) {
                if (flags === RENAME_EXCHANGE) {
                  model.get(p)!.set(n, dst!);
                  model.get(q)!.set(m, src);
                } else {
                  model.get(p)!.delete(n);
                  model.get(q)!.set(m, src);
                  if (dst !== undefined && isDir.has(dst)) model.delete(dst);
                }
              }
              if (r.replaced && !r.replaced.isDir && r.replaced.nlink === 0) await store.purgeInode(r.replaced.ino);
            } else if (op === 7) {
              const ino = model.get(p)!.get(n);
              if (ino === undefined || isDir.has(ino)) continue;
              const b = blocks[rand(3)];
              await store.commitSlices(ino, [{ chunk: rand(3), slices: [slice(b, rand(100), 1 + rand(50))] }],
                [blk(b, 200)], rand(3 * chunkSize), tick());
            } else {
              const ino = model.get(p)!.get(n);
              if (ino === undefined || isDir.has(ino)) continue;
              await store.truncate(ino, rand(3 * chunkSize), tick());
            }
          } catch (err) {
            if (!(err instanceof FsError)) throw err;
            codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          }
        }
        assert.ok(codes.size >= 4, `a mix of errors was exercised: ${[...codes.keys()].join(',')}`);
        assert.deepEqual(await problems(store), []);

        const linkCount = new Map<number, number>();
        for (const [dir, entries] of model) {
          const listed = await listAll(store, dir, 3);
          assert.deepEqual(listed.map((e) => [e.name, e.ino]).sort(), [...entries].sort(), `directory ${dir}`);
          for (const ino of entries.values()) linkCount.set(ino, (linkCount.get(ino) ?? 0) + 1);
          const subdirs = [...entries.values()].filter((i) => isDir.has(i)).length;
          assert.equal(await nlink(dir), 2 + subdirs);
        }
        for (const [ino, n] of linkCount) if (!isDir.has(ino)) assert.equal(await nlink(ino), n);
        for (const dir of model.keys()) {
          assert.equal(await store.isAncestor(ROOT_INO, dir), true);
        }

        for (const ino of await store.listOrphans()) await store.purgeInode(ino);
        assert.deepEqual(await store.check(), []);
      });
    });
  });
}
