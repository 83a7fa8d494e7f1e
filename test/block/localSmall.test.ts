// LocalBlockStore with small blocks as rows of small.db: routing by size, folders written before
// small.db, space given back, puts surviving SIGKILL, put/delete races.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { SMALL_DB_FILE } from '../../src/block/local/SmallBlockDb.js';
import { BlockNotFoundError } from '../../src/errors.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { smallBlockOf } from './localSmallBlocks.js';

const SMALL = { smallBlockMaxBytes: 64 * 1024 };

async function ids(store: LocalBlockStore): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list()) out.push(info.id);
  return out.sort();
}

describe('LocalBlockStore small blocks', () => {
  const roots: string[] = [];
  const freshDir = async (): Promise<string> => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-small-'));
    roots.push(root);
    return path.join(root, 'blocks');
  };
  after(async () => {
    for (const r of roots) await fs.rm(r, { recursive: true, force: true });
  });

  it('stores blocks up to the limit as rows and larger ones as files; list yields each once with its size', async () => {
    const dir = await freshDir();
    const store = await LocalBlockStore.open(dir, SMALL);
    const small = randomBlock(64 * 1024);
    const large = randomBlock(64 * 1024 + 1);
    await store.put(small.id, small.data);
    await store.put(large.id, large.data);
    assert.equal(store.isRow(small.id), true);
    assert.equal(store.isRow(large.id), false);
    await assert.rejects(fs.access(store.pathOf(small.id)), 'no file for a small block');
    assert.ok((await fs.readFile(store.pathOf(large.id))).equals(large.data));
    const listed = [];
    for await (const info of store.list()) listed.push(info);
    assert.deepEqual(listed.map((b) => [b.id, b.size]).sort(), [[small.id, small.data.length], [large.id, large.data.length]].sort());
    assert.ok(listed.every((b) => typeof b.mtimeMs === 'number' && b.mtimeMs > Date.now() - 60_000));
    await store.close();
  });

  it('reads block files of a folder written before small.db, and a block stored both ways lists once and deletes fully', async () => {
    const dir = await freshDir();
    const old = await LocalBlockStore.open(dir); // files only
    const a = randomBlock(100);
    const b = randomBlock(200);
    await old.put(a.id, a.data);
    await old.put(b.id, b.data);
    await old.close();
    await assert.rejects(fs.access(path.join(dir, SMALL_DB_FILE)), 'a files-only store makes no database');

    const store = await LocalBlockStore.open(dir, SMALL);
    assert.ok((await store.get(a.id)).equals(a.data));
    assert.ok((await store.getRange(a.id, 10, 20)).equals(a.data.subarray(10, 30)));
    assert.equal(await store.has(a.id), true);
    await store.put(b.id, b.data); // now a row as well as a file
    assert.equal(store.isRow(b.id), true);
    assert.deepEqual(await ids(store), [a.id, b.id].sort());
    await store.delete(b.id);
    assert.equal(await store.has(b.id), false);
    await assert.rejects(store.get(b.id), BlockNotFoundError);
    await assert.rejects(fs.access(store.pathOf(b.id)));
    assert.deepEqual(await ids(store), [a.id]);
    await store.close();
  });

  it('a store opened without the option still reads, lists and deletes the rows of an existing small.db', async () => {
    const dir = await freshDir();
    const store = await LocalBlockStore.open(dir, SMALL);
    const a = randomBlock(300);
    const b = randomBlock(400);
    await store.put(a.id, a.data);
    await store.put(b.id, b.data);
    await store.close();
    const plain = await LocalBlockStore.open(dir);
    assert.ok((await plain.get(a.id)).equals(a.data));
    assert.deepEqual(await ids(plain), [a.id, b.id].sort());
    await plain.delete(b.id);
    const c = randomBlock(500);
    await plain.put(c.id, c.data); // without the option: a file
    assert.ok((await fs.readFile(plain.pathOf(c.id))).equals(c.data));
    assert.deepEqual(await ids(plain), [a.id, c.id].sort());
    await plain.close();
  });

  it('gives the space of deleted rows back to the file system', async () => {
    const dir = await freshDir();
    const store = await LocalBlockStore.open(dir, SMALL);
    const blocks = Array.from({ length: 2500 }, (_, i) => smallBlockOf(i));
    await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
    await store.close();
    const full = (await fs.stat(path.join(dir, SMALL_DB_FILE))).size;
    assert.ok(full > 10 * 1024 * 1024, `database holds the blocks: ${full} bytes`);

    const again = await LocalBlockStore.open(dir, SMALL);
    await Promise.all(blocks.slice(1).map((b) => again.delete(b.id)));
    await again.close();
    const emptied = (await fs.stat(path.join(dir, SMALL_DB_FILE))).size;
    assert.ok(emptied < full / 4, `deleting shrinks the database: ${full} -> ${emptied} bytes`);
    const last = await LocalBlockStore.open(dir, SMALL);
    assert.ok((await last.get(blocks[0].id)).equals(blocks[0].data), 'the block kept is intact');
    assert.deepEqual(await ids(last), [blocks[0].id]);
    await last.close();
  });

  it('puts issued while a checkpoint holds writes, and puts racing deletes of the same id, end consistent', async () => {
    const dir = await freshDir();
    const store = await LocalBlockStore.open(dir, SMALL);
    const blocks = Array.from({ length: 300 }, (_, i) => smallBlockOf(i));
    const first = blocks.slice(0, 150).map((b) => store.put(b.id, b.data));
    const checkpoint = (store as unknown as { small: { checkpoint(): Promise<void> } }).small.checkpoint();
    const rest = blocks.slice(150).map((b) => store.put(b.id, b.data));
    await Promise.all([...first, checkpoint, ...rest]);
    for (const b of blocks) assert.ok((await store.get(b.id)).equals(b.data));

    // Delete issued after a put of the same id wins; a put issued after a delete wins.
    const x = smallBlockOf(1000);
    const y = smallBlockOf(1001);
    await store.put(y.id, y.data);
    await Promise.all([store.put(x.id, x.data), store.delete(x.id), store.delete(y.id), store.put(y.id, y.data)]);
    assert.equal(await store.has(x.id), false);
    assert.ok((await store.get(y.id)).equals(y.data));
    await store.close();
  });

  it('every put that resolved survives SIGKILL of the process, without sync', async (t) => {
    const dir = await freshDir();
    const COUNT = 400;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const script = fileURLToPath(new URL(`./localSmallChild${ext}`, import.meta.url));
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
    const child = spawn(process.execPath, [...execArgv, script, dir, String(COUNT)], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready\n') && resolve());
      child.once('exit', () => reject(new Error(`child ended before it was ready: ${err}`)));
    });
    child.kill('SIGKILL');
    await exited;

    const store = await LocalBlockStore.open(dir, SMALL);
    for (let i = 0; i < COUNT; i++) {
      const b = smallBlockOf(i);
      assert.ok((await store.get(b.id)).equals(b.data), `block ${i} intact`);
    }
    assert.equal((await ids(store)).length, new Set(Array.from({ length: COUNT }, (_, i) => smallBlockOf(i).id)).size);
    await store.close();
  });
});
