// LocalBlockStore.put runs its existence check, folder creation and temp-file write at once:
// whatever fails, no temp file may be left behind and no block may appear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { TEMP_DIR } from '../../src/block/local/tempFiles.js';

async function withStore(fn: (store: LocalBlockStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaic-put-'));
  try {
    await fn(await LocalBlockStore.open(dir), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ID_A = 'ab'.repeat(32);
const ID_B = 'cd'.repeat(32);

test('a put whose fan-out folder cannot be made fails and leaves no temp file', () =>
  withStore(async (store, dir) => {
    await writeFile(path.join(dir, 'ab'), 'a file where the fan-out folder should be');
    await assert.rejects(store.put(ID_A, Buffer.from('payload')));
    assert.deepEqual(await readdir(path.join(dir, TEMP_DIR)), []);
    assert.equal(await store.has(ID_A), false);
  }));

test('a put of an id already stored leaves one file holding one whole copy and no temp file', () =>
  withStore(async (store, dir) => {
    // Same id means same bytes in real use; different bytes here show that no mix of the two appears.
    await store.put(ID_B, Buffer.from('first copy'));
    await store.put(ID_B, Buffer.from('second copy'));
    assert.ok(['first copy', 'second copy'].includes((await readFile(store.pathOf(ID_B))).toString()));
    assert.deepEqual(await readdir(path.join(dir, ID_B.slice(0, 2))), [ID_B]);
    assert.deepEqual(await readdir(path.join(dir, TEMP_DIR)), []);
  }));

test('concurrent puts into new fan-out folders all land', () =>
  withStore(async (store, dir) => {
    const ids = Array.from({ length: 40 }, (_, i) => (i.toString(16).padStart(2, '0') + '5a').repeat(16));
    await Promise.all(ids.map((id, i) => store.put(id, Buffer.from(`block ${i}`))));
    for (const [i, id] of ids.entries()) assert.equal((await store.get(id)).toString(), `block ${i}`);
    assert.deepEqual(await readdir(path.join(dir, TEMP_DIR)), []);
  }));
