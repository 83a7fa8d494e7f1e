import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { VolumeError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type MetaStore } from '../../src/meta/MetaStore.js';
import { DEFAULT_CHUNK_SIZE, SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { SCHEMA_VERSION } from '../../src/meta/sqlite/schema.js';
import { metaStoreContract } from '../contract/metaStoreContract.js';

metaStoreContract('SqliteMetaStore', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-meta-'));
  const store = SqliteMetaStore.open(path.join(dir, 'meta.db'));
  return {
    store,
    chunkSize: store.chunkSize,
    cleanup: async () => {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

const T = { sec: 1_700_000_000, nsec: 123_456_789 };
const ID = (c: string) => c.repeat(64);

async function init(store: MetaStore): Promise<void> {
  await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
}

describe('SqliteMetaStore specifics', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-sqlite-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const dbFile = (n: string) => path.join(dir, `${n}.db`);

  it('keeps everything across close and reopen, and never reuses inode numbers', async () => {
    const file = dbFile('reopen');
    let store = SqliteMetaStore.open(file, { chunkSize: 65536 });
    await init(store);
    const d = await store.create(ROOT_INO, 'd', { mode: S_IFDIR | 0o700, uid: 1, gid: 2, now: T });
    const f = await store.create(d.ino, 'f', { mode: S_IFREG | 0o644, uid: 1, gid: 2, now: T });
    await store.create(d.ino, 'l', { mode: S_IFLNK | 0o777, uid: 1, gid: 2, now: T, symlinkTarget: '../f' });
    await store.link(f.ino, ROOT_INO, 'f2', T);
    await store.commitSlices(f.ino, [{ chunk: 1, slices: [{ chunkOff: 5, len: 10, blockId: ID('a'), blockOff: 0 }] }],
      [{ id: ID('a'), size: 10, storedSize: 38 }], 65536 + 15, T);
    await store.setxattr(f.ino, 'user.k', Buffer.from('value'), 0, T);
    await store.setSetting('volume.id', 'v1');
    const last = await store.create(ROOT_INO, 'last', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
    await store.unlink(ROOT_INO, 'last', T);
    await store.purgeInode(last.ino);
    const orphan = await store.create(ROOT_INO, 'orphan', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
    await store.unlink(ROOT_INO, 'orphan', T);
    const snapshot = {
      root: await store.getattr(ROOT_INO),
      d: await store.getattr(d.ino),
      f: await store.getattr(f.ino),
      list: await store.readdir(d.ino, null, 100),
      chunks: await store.readChunks(f.ino, 0, 10),
      stats: await store.stats(),
    };
    await store.close();

    store = SqliteMetaStore.open(file);
    try {
      assert.equal(store.chunkSize, 65536);
      await init(store);
      assert.deepEqual(await store.getattr(ROOT_INO), snapshot.root);
      assert.deepEqual(await store.getattr(d.ino), snapshot.d);
      assert.deepEqual(await store.getattr(f.ino), snapshot.f);
      assert.deepEqual(await store.readdir(d.ino, null, 100), snapshot.list);
      assert.deepEqual(await store.readChunks(f.ino, 0, 10), snapshot.chunks);
      assert.deepEqual(await store.stats(), snapshot.stats);
      assert.equal(await store.readlink((await store.lookup(d.ino, 'l'))!.ino), '../f');
      assert.equal((await store.getxattr(f.ino, 'user.k')).toString(), 'value');
      assert.equal(await store.getSetting('volume.id'), 'v1');
      assert.deepEqual(await store.listOrphans(), [orphan.ino]);
      assert.ok(['/d/f', '/f2'].includes((await store.pathOf(f.ino))!));
      const fresh = await store.create(ROOT_INO, 'new', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
      assert.ok(fresh.ino > orphan.ino && fresh.ino !== last.ino, `ino ${fresh.ino} is new`);
      assert.deepEqual((await store.check()).filter((l) => !l.startsWith('orphan:')), []);
    } finally {
      await store.close();
    }
  });

  it('refuses to open with a different chunk size', async () => {
    const file = dbFile('chunks');
    const store = SqliteMetaStore.open(file, { chunkSize: 1 << 20 });
    await init(store);
    await store.close();
    assert.throws(() => SqliteMetaStore.open(file, { chunkSize: DEFAULT_CHUNK_SIZE }), VolumeError);
    assert.throws(() => SqliteMetaStore.open(dbFile('bad-chunk'), { chunkSize: 0 }), VolumeError);
    const again = SqliteMetaStore.open(file, { chunkSize: 1 << 20 });
    assert.equal(again.chunkSize, 1 << 20);
    assert.equal(await again.getSetting('chunk_size'), String(1 << 20));
    await again.close();
    const fresh = SqliteMetaStore.open(dbFile('default-chunks'));
    assert.equal(fresh.chunkSize, DEFAULT_CHUNK_SIZE);
    await fresh.close();
  });

  it('refuses a schema newer than it understands', async () => {
    const file = dbFile('future');
    const store = SqliteMetaStore.open(file);
    assert.equal(await store.getSetting('schema_version'), String(SCHEMA_VERSION));
    await store.setSetting('schema_version', '99');
    await store.close();
    assert.throws(() => SqliteMetaStore.open(file), /newer/);
  });

  it('uses WAL, and sync() checkpoints every commit into the database file', async () => {
    const file = dbFile('wal');
    const store = SqliteMetaStore.open(file);
    try {
      await init(store);
      const f = await store.create(ROOT_INO, 'durable', { mode: S_IFREG | 0o600, uid: 0, gid: 0, now: T });
      const probe = new Database(file, { readonly: true });
      assert.equal(probe.pragma('journal_mode', { simple: true }), 'wal');
      probe.close();
      await fs.access(`${file}-wal`);

      await store.sync();
      // The database file alone (without its -wal) now holds the commit.
      const copy = dbFile('wal-copy');
      await fs.copyFile(file, copy);
      const reopened = SqliteMetaStore.open(copy);
      try {
        assert.equal((await reopened.lookup(ROOT_INO, 'durable'))?.ino, f.ino);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
    }
  });

  it('lists a 100,000-entry directory completely in pages', async () => {
    const file = dbFile('huge');
    const store = SqliteMetaStore.open(file);
    try {
      await init(store);
      const d = await store.create(ROOT_INO, 'huge', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const N = 100_000;
      // Populate through a second connection in one transaction (100,000 create() calls would take
      // minutes on a loaded machine); check() below proves the rows are what create() would write.
      await store.sync(); // commit the open group: the second connection needs the write lock
      const raw = new Database(file);
      raw.transaction(() => {
        const ins = raw.prepare(`INSERT INTO inodes (mode, uid, gid, size, nlink, rdev, atime_s, atime_ns,
          mtime_s, mtime_ns, ctime_s, ctime_ns, crtime_s, crtime_ns) VALUES (?, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0)`);
        const ent = raw.prepare('INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?)');
        for (let i = 0; i < N; i++) {
          const ino = Number(ins.run(S_IFREG | 0o644).lastInsertRowid);
          ent.run(d.ino, `file-${(i * 7919) % N}`, ino);
        }
      })();
      raw.close();
      assert.deepEqual(await store.check(), []);

      for (const pageSize of [1000, 997]) {
        const seen = new Set<string>();
        let prev = '';
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<MetaStore['readdir']>> = await store.readdir(d.ino, cursor, pageSize);
          assert.ok(page.entries.length <= pageSize);
          for (const e of page.entries) {
            assert.ok(Buffer.compare(Buffer.from(prev), Buffer.from(e.name)) < 0, 'names in order');
            assert.equal(e.mode & S_IFMT, S_IFREG);
            seen.add(e.name);
            prev = e.name;
          }
          cursor = page.next;
          pages++;
        } while (cursor !== null);
        assert.equal(seen.size, N);
        assert.equal(pages, Math.ceil(N / pageSize));
      }
      const ino = (await store.lookup(d.ino, 'file-99999'))!.ino;
      assert.equal(await store.pathOf(ino), '/huge/file-99999');
    } finally {
      await store.close();
    }
  });

  it('check() reports deliberate damage', async () => {
    const file = dbFile('damage');
    const store = SqliteMetaStore.open(file);
    try {
      await init(store);
      const a = await store.create(ROOT_INO, 'a', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const b = await store.create(a.ino, 'b', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const f = await store.create(b.ino, 'f', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
      await store.commitSlices(f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 4, blockId: ID('b'), blockOff: 0 }] }],
        [{ id: ID('b'), size: 4, storedSize: 32 }], 4, T);
      assert.deepEqual(await store.check(), []);

      await store.sync(); // commit the open group: the second connection needs the write lock
      const raw = new Database(file);
      raw.prepare('UPDATE inodes SET nlink = 5 WHERE ino = ?').run(f.ino);
      raw.prepare('DELETE FROM closure WHERE ancestor = ? AND descendant = ?').run(ROOT_INO, b.ino);
      raw.prepare('UPDATE blocks SET refs = 3 WHERE id = ?').run(ID('b'));
      raw.prepare("INSERT INTO entries (parent, name, ino) VALUES (?, 'ghost', 424242)").run(a.ino);
      raw.close();

      const report = await store.check();
      const has = (re: RegExp) => assert.ok(report.some((l) => re.test(l)), `${re} in ${JSON.stringify(report)}`);
      has(new RegExp(`inode ${f.ino}: nlink 5 but 1 entries`));
      has(new RegExp(`directory ${b.ino} is not under the root`));
      has(new RegExp(`closure row \\(${ROOT_INO}, ${b.ino}, depth 2\\) missing`));
      has(/refs 3 but 1 slices/);
      has(/points to missing inode 424242/);
      assert.equal(report.filter((l) => l.startsWith('orphan:')).length, 0);
    } finally {
      await store.close();
    }
  });
});
