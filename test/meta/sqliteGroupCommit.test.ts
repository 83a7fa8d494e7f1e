import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { isFsError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFREG } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { AFTER_SYNC, SYNCED, blockIdOf } from './sqliteGroupCommitChild.js';

const T = { sec: 1_700_000_000, nsec: 0 };
const FILE = { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T };
const ID = (c: string) => c.repeat(64);
/** So long that only explicit commits (sync, close, GC) end a group during a test. */
const FOREVER_MS = 3_600_000;

/** Names in the root as a second, independent connection sees them (committed state only). */
function committedNames(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT name FROM entries WHERE parent = ? ORDER BY name').pluck().all(ROOT_INO) as string[]);
  } finally {
    db.close();
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (cond()) return true;
  return cond();
}

describe('SqliteMetaStore group commit', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-group-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const dbFile = (n: string) => path.join(dir, `${n}.db`);

  it('a failing operation inside a group rolls back alone; the others commit', async () => {
    const file = dbFile('savepoints');
    const store = SqliteMetaStore.open(file, { commitDelayMs: FOREVER_MS });
    try {
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const a = await store.create(ROOT_INO, 'a', FILE);
      await assert.rejects(store.create(ROOT_INO, 'a', FILE), (e) => isFsError(e, 'EEXIST'));
      const b = await store.create(ROOT_INO, 'b', FILE);
      // Records a new block, appends one good slice, then fails on a slice naming an unrecorded
      // block: none of it may remain.
      await assert.rejects(store.commitSlices(a.ino, [{
        chunk: 0, slices: [
          { chunkOff: 0, len: 4, blockId: ID('1'), blockOff: 0 },
          { chunkOff: 4, len: 4, blockId: ID('2'), blockOff: 0 },
        ],
      }], [{ id: ID('1'), size: 4, storedSize: 32 }], 8, T), (e) => isFsError(e, 'EIO'));
      await store.commitSlices(b.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 3, blockId: ID('3'), blockOff: 0 }] }],
        [{ id: ID('3'), size: 3, storedSize: 31 }], 3, T);
      await assert.rejects(store.rmdir(ROOT_INO, 'a', T), (e) => isFsError(e, 'ENOTDIR'));
      await store.unlink(ROOT_INO, 'a', T);

      assert.deepEqual(committedNames(file), [], 'nothing committed before sync: the group is still open');
      await store.sync();
      assert.deepEqual(committedNames(file), ['b']);
    } finally {
      await store.close();
    }
    const again = SqliteMetaStore.open(file, { commitDelayMs: 0 });
    try {
      assert.equal(await again.getBlock(ID('1')), null, 'the failed commit recorded no block');
      assert.equal((await again.getBlock(ID('3')))?.refs, 1);
      const b = (await again.lookup(ROOT_INO, 'b'))!;
      assert.equal(b.size, 3);
      assert.equal(b.allocated, 3);
      assert.equal(await again.lookup(ROOT_INO, 'a'), null);
      const orphans = await again.listOrphans();
      assert.equal(orphans.length, 1, 'a: unlinked, awaiting purge');
      assert.deepEqual((await again.check()).filter((l) => !l.startsWith('orphan:')), []);
    } finally {
      await again.close();
    }
  });

  it('sync() makes every grouped operation visible to a second connection', async () => {
    const file = dbFile('sync');
    const store = SqliteMetaStore.open(file, { commitDelayMs: FOREVER_MS });
    try {
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      await store.sync();
      const d = await store.create(ROOT_INO, 'd', { ...FILE, mode: S_IFDIR | 0o755 });
      await store.create(d.ino, 'inner', FILE);
      await store.create(ROOT_INO, 'f', FILE);
      await store.rename(ROOT_INO, 'f', ROOT_INO, 'g', 0, T);
      await store.setxattr(d.ino, 'user.k', Buffer.from('v'), 0, T);
      // The same connection sees its own uncommitted writes; another does not yet.
      assert.equal((await store.lookup(ROOT_INO, 'g'))?.mode, S_IFREG | 0o644);
      assert.deepEqual(committedNames(file), []);
      await store.sync();
      assert.deepEqual(committedNames(file), ['d', 'g']);
      const other = SqliteMetaStore.open(file, { commitDelayMs: 0 });
      try {
        assert.ok(await other.lookup(d.ino, 'inner'));
        assert.deepEqual(await other.getxattr(d.ino, 'user.k'), Buffer.from('v'));
        assert.deepEqual(await other.check(), []);
      } finally {
        await other.close();
      }
    } finally {
      await store.close();
    }
  });

  it('the window closes by itself: a short commitDelayMs commits without sync()', async () => {
    const file = dbFile('timer');
    const store = SqliteMetaStore.open(file, { commitDelayMs: 20 });
    try {
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      await store.create(ROOT_INO, 'x', FILE);
      assert.ok(await waitUntil(() => committedNames(file).includes('x'), 30_000), 'committed by the timer');
    } finally {
      await store.close();
    }
  });

  it('commitDelayMs 0 commits every operation at once', async () => {
    const file = dbFile('immediate');
    const store = SqliteMetaStore.open(file, { commitDelayMs: 0 });
    try {
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      await store.create(ROOT_INO, 'now', FILE);
      assert.deepEqual(committedNames(file), ['now']);
    } finally {
      await store.close();
    }
  });

  it('unreferencedBlocks() commits first, so the GC never deletes a block a crash could bring back', async () => {
    const file = dbFile('gc');
    const store = SqliteMetaStore.open(file, { commitDelayMs: FOREVER_MS });
    try {
      await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const f = await store.create(ROOT_INO, 'f', FILE);
      await store.commitSlices(f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 5, blockId: ID('9'), blockOff: 0 }] }],
        [{ id: ID('9'), size: 5, storedSize: 33 }], 5, T);
      await store.unlink(ROOT_INO, 'f', T);
      await store.purgeInode(f.ino);
      assert.deepEqual(await store.unreferencedBlocks(Date.now() + 1000, 10), [ID('9')]);
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.prepare('SELECT refs FROM blocks WHERE id = ?').pluck().get(ID('9')), 0);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  for (const mode of ['kill', 'exit'] as const) {
    it(mode === 'kill'
      ? 'a process killed with SIGKILL after sync() keeps everything synced (and loses the open window)'
      : 'a process that calls process.exit() without close() still commits its open window', async (t) => {
      const file = dbFile(`child-${mode}`);
      const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
      const script = fileURLToPath(new URL(`./sqliteGroupCommitChild${ext}`, import.meta.url));
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
      const child = spawn(process.execPath, [...execArgv, script, file, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      if (mode === 'kill') {
        assert.ok(await waitUntil(() => out.includes('\n') || child.exitCode !== null, 60_000), `child never got ready: ${err}`);
        assert.equal(child.exitCode, null, `child exited early: ${err}`);
        child.kill('SIGKILL');
        await exited;
      } else {
        assert.equal(await exited, 0, `child failed: ${err}`);
      }

      const store = SqliteMetaStore.open(file, { commitDelayMs: 0 });
      try {
        for (const [i, name] of SYNCED.entries()) {
          const attr = await store.lookup(ROOT_INO, name);
          assert.ok(attr, `${name} survives`);
          assert.equal(attr.size, 10);
          const slices = (await store.readChunks(attr.ino, 0, 0)).get(0);
          assert.equal(slices?.[0].blockId, blockIdOf(i));
        }
        for (const name of AFTER_SYNC) {
          const found = (await store.lookup(ROOT_INO, name)) !== null;
          assert.equal(found, mode === 'exit', `${name} after sync: ${mode === 'exit' ? 'committed at exit' : 'lost with the window'}`);
        }
        assert.deepEqual(await store.check(), []);
        if (mode === 'kill') {
          // Inode numbers the lost window handed out are never given to another file.
          const lostUpTo = Number(/^ready (\d+)$/m.exec(out)?.[1]);
          assert.ok(lostUpTo > 0, `child said ${JSON.stringify(out)}`);
          const fresh = await store.create(ROOT_INO, 'after-crash', FILE);
          assert.ok(fresh.ino > lostUpTo, `new inode ${fresh.ino} reuses a number up to ${lostUpTo} a lost create had`);
        }
      } finally {
        await store.close();
      }
    });
  }

  it('a clean close() leaves inode numbering untouched; reopening after it allocates the next number', async () => {
    const file = dbFile('clean');
    let store = SqliteMetaStore.open(file);
    await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    const a = await store.create(ROOT_INO, 'a', FILE);
    await store.close();
    store = SqliteMetaStore.open(file);
    try {
      assert.equal((await store.create(ROOT_INO, 'b', FILE)).ino, a.ino + 1);
    } finally {
      await store.close();
    }
  });
});
