import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { TEMP_DIR } from '../../src/block/local/tempFiles.js';
import { FsError } from '../../src/errors.js';
import { blockStoreContract, randomBlock } from '../contract/blockStoreContract.js';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-local-'));
}

blockStoreContract('LocalBlockStore', async () => {
  const dir = await tempDir();
  const store = await LocalBlockStore.open(path.join(dir, 'blocks'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

blockStoreContract('LocalBlockStore with small blocks in small.db', async () => {
  const dir = await tempDir();
  // 64 KiB: the contract's 10 MiB block is a file, its small ones are rows.
  const store = await LocalBlockStore.open(path.join(dir, 'blocks'), { smallBlockMaxBytes: 64 * 1024 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

/** A pid that certainly belongs to no running process: one that just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('LocalBlockStore specifics', () => {
  const dirs: string[] = [];
  const fresh = async (): Promise<{ dir: string; store: LocalBlockStore }> => {
    const root = await tempDir();
    dirs.push(root);
    const dir = path.join(root, 'blocks');
    return { dir, store: await LocalBlockStore.open(dir) };
  };
  after(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it('creates the folder and stores a block at ab/<id>', async () => {
    const { dir, store } = await fresh();
    assert.ok((await fs.stat(dir)).isDirectory());
    const b = randomBlock(123);
    await store.put(b.id, b.data);
    const file = path.join(dir, b.id.slice(0, 2), b.id);
    assert.ok((await fs.readFile(file)).equals(b.data));
    assert.equal(store.pathOf(b.id), file);
    assert.equal(store.name, `local:${dir}`);
    assert.deepEqual(await fs.readdir(path.join(dir, TEMP_DIR)), [], 'no temp file left after a put');
    await store.close();
  });

  it('removes temp files of dead processes on open, keeps those of live ones', async () => {
    const { dir, store } = await fresh();
    await store.close();
    const tmp = path.join(dir, TEMP_DIR);
    const stale = path.join(tmp, `${deadPid()}.deadbeef`);
    const garbage = path.join(tmp, 'not-a-temp-name');
    const live = path.join(tmp, `${process.pid}.cafebabe`);
    for (const f of [stale, garbage, live]) await fs.writeFile(f, 'partial');
    const reopened = await LocalBlockStore.open(dir);
    assert.deepEqual(await fs.readdir(tmp), [path.basename(live)]);
    await reopened.close();
  });

  it('removes temp files older than an hour even if their pid is alive', async () => {
    const { dir, store } = await fresh();
    await store.close();
    const old = path.join(dir, TEMP_DIR, `${process.pid}.0123`);
    await fs.writeFile(old, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(old, twoHoursAgo, twoHoursAgo);
    const reopened = await LocalBlockStore.open(dir);
    assert.deepEqual(await fs.readdir(path.join(dir, TEMP_DIR)), []);
    await reopened.close();
  });

  it('returns a truncated or edited file as-is (detection is the codec\'s job)', async () => {
    const { store } = await fresh();
    const a = randomBlock(1000);
    const b = randomBlock(1000);
    await store.put(a.id, a.data);
    await store.put(b.id, b.data);
    await fs.truncate(store.pathOf(a.id), 10);
    const edited = Buffer.from(b.data);
    edited[500] ^= 0xff;
    await fs.writeFile(store.pathOf(b.id), edited);
    assert.ok((await store.get(a.id)).equals(a.data.subarray(0, 10)));
    assert.ok((await store.get(b.id)).equals(edited));
    assert.ok((await store.getRange(a.id, 5, 100)).equals(a.data.subarray(5, 10)), 'a range of a truncated file is clipped');
    await store.close();
  });

  it('ignores foreign files and misplaced ids when listing', async () => {
    const { dir, store } = await fresh();
    const b = randomBlock(50);
    await store.put(b.id, b.data);
    const other = randomBlock(60);
    await fs.writeFile(path.join(dir, 'README'), 'hello');
    await fs.mkdir(path.join(dir, 'zz', 'yy'), { recursive: true });
    await fs.writeFile(path.join(dir, 'zz', 'yy', other.id), other.data);
    const leaf = path.dirname(store.pathOf(b.id));
    await fs.writeFile(path.join(leaf, other.id), other.data); // valid id, wrong folder
    await fs.writeFile(path.join(leaf, 'NOT-AN-ID'), 'x');
    const ids: string[] = [];
    for await (const info of store.list()) ids.push(info.id);
    assert.deepEqual(ids, [b.id]);
    await store.close();
  });

  it('never follows a symlink planted in place of a block', async () => {
    const { dir, store } = await fresh();
    const secret = path.join(path.dirname(dir), 'outside');
    await fs.writeFile(secret, 'outside the store');
    const b = randomBlock(10);
    const file = store.pathOf(b.id);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.symlink(secret, file);
    await assert.rejects(store.get(b.id), (err: unknown) => err instanceof FsError && err.code === 'EIO');
    await assert.rejects(store.getRange(b.id, 0, 5), (err: unknown) => err instanceof FsError && err.code === 'EIO');
    assert.equal(await store.has(b.id), false);
    await store.close();
  });

  it('getRange of a folder planted in place of a block is EIO', async () => {
    const { store } = await fresh();
    const b = randomBlock(10);
    await fs.mkdir(store.pathOf(b.id), { recursive: true });
    await assert.rejects(store.getRange(b.id, 0, 5), (err: unknown) => err instanceof FsError && err.code === 'EIO');
    await store.close();
  });

  it('blocks put and synced read back after reopening', async () => {
    const { dir, store } = await fresh();
    const blocks = Array.from({ length: 40 }, () => randomBlock(2000));
    await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
    await store.sync();
    await store.close();
    const reopened = await LocalBlockStore.open(dir);
    for (const b of blocks) assert.ok((await reopened.get(b.id)).equals(b.data));
    await reopened.close();
  });
});
