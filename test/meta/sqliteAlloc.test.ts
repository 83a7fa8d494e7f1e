/** The SQLite engine's alloc column (InodeAttr.allocated): fsck sees damage, and v1 stores are backfilled. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { ROOT_INO, S_IFDIR, S_IFREG } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';

const T = { sec: 1_700_000_000, nsec: 0 };
const ID = (c: string) => c.repeat(64);

describe('SqliteMetaStore alloc column', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-alloc-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A store with one file holding two slices (4 + 6 bytes) in a 1 MiB + 6 byte file. */
  async function storeWithFile(name: string): Promise<{ file: string; store: SqliteMetaStore; ino: number }> {
    const file = path.join(dir, `${name}.db`);
    const store = SqliteMetaStore.open(file);
    await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    const f = await store.create(ROOT_INO, 'f', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
    await store.commitSlices(f.ino, [
      { chunk: 0, slices: [{ chunkOff: 0, len: 4, blockId: ID('a'), blockOff: 0 }] },
      { chunk: 1, slices: [{ chunkOff: 0, len: 6, blockId: ID('b'), blockOff: 0 }] },
    ], [{ id: ID('a'), size: 4, storedSize: 32 }, { id: ID('b'), size: 6, storedSize: 34 }], store.chunkSize + 6, T);
    return { file, store, ino: f.ino };
  }

  it('check() reports an alloc that does not match the slices', async () => {
    const { file, store, ino } = await storeWithFile('damage');
    try {
      assert.equal((await store.getattr(ino)).allocated, 10);
      assert.deepEqual(await store.check(), []);
      await store.sync(); // commit the open group: the second connection needs the write lock
      const raw = new Database(file);
      raw.prepare('UPDATE inodes SET alloc = 7 WHERE ino = ?').run(ino);
      raw.close();
      assert.deepEqual(await store.check(), [`inode ${ino}: alloc 7 but its slices hold 10 bytes`]);
    } finally {
      await store.close();
    }
  });

  it('opening a schema-1 store adds alloc and fills it from the slices', async () => {
    const { file, store, ino } = await storeWithFile('v1');
    await store.close();
    const raw = new Database(file);
    raw.exec(`ALTER TABLE inodes DROP COLUMN alloc; UPDATE settings SET value = '1' WHERE key = 'schema_version'`);
    raw.close();
    const again = SqliteMetaStore.open(file);
    try {
      assert.equal((await again.getattr(ino)).allocated, 10);
      assert.equal((await again.getattr(ROOT_INO)).allocated, 0);
      assert.deepEqual(await again.check(), []);
    } finally {
      await again.close();
    }
  });
});
