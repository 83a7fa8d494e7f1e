import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { cli, json, newVolume, type TestVolume } from './fixture.js';

interface Df {
  files: number;
  logicalBytes: number;
  referencedBytes: number;
  blocks: number;
  blockBytes: number;
  storedBytes: number;
  dedupRatio: number;
}

interface Gc {
  deleted: number;
  bytes: number;
  leaked: { deleted: number; kept: number };
}

/** Ids of the blocks actually stored under VOL/blocks (files and rows of blocks/small.db), read by the store itself. */
async function storedBlocks(vol: string): Promise<string[]> {
  const store = await LocalBlockStore.open(path.join(vol, 'blocks'));
  try {
    const ids: string[] = [];
    for await (const b of store.list()) ids.push(b.id);
    return ids;
  } finally {
    await store.close();
  }
}

describe('df and gc', () => {
  const cleanup = suiteCleanups();
  let v: TestVolume;
  const SIZE = 3 * 1024 * 1024 + 12345; // four 1 MiB blocks, the last one partial
  before(async () => {
    v = await newVolume(cleanup);
    await writeFile(v.local('data.bin'), randomBytes(SIZE));
  });

  it('df counts logical and stored bytes, blocks and files; the same file under two names dedups to ratio 2', async () => {
    const empty = json<Df>(await cli(0, ['df', '--json', v.vol]));
    assert.equal(empty.blocks, 0);
    assert.equal(empty.logicalBytes, 0);

    await cli(0, ['put', v.local('data.bin'), v.at('/one.bin')]);
    await cli(0, ['put', v.local('data.bin'), v.at('/two.bin')]);
    const df = json<Df>(await cli(0, ['df', '--json', v.vol]));
    assert.equal(df.logicalBytes, 2 * SIZE);
    assert.equal(df.referencedBytes, 2 * SIZE);
    assert.equal(df.blockBytes, SIZE, 'each block is stored once');
    assert.equal(df.blocks, 4);
    assert.ok(Math.abs(df.dedupRatio - 2) < 0.01, `dedup ratio ${df.dedupRatio}`);
    assert.ok(df.storedBytes > SIZE && df.storedBytes < SIZE * 1.01, `stored ${df.storedBytes}: the data once, plus under 1% of sealing overhead`);
    assert.equal(df.files, empty.files + 2);
    assert.equal((await storedBlocks(v.vol)).length, 4);

    const human = (await cli(0, ['df', v.vol])).stdout;
    assert.match(human, /dedup ratio: +2\.00/);
    assert.match(human, /blocks: +4 /);
  });

  it('gc frees nothing while blocks are used, and frees the blocks of removed files', async () => {
    assert.equal(json<Gc>(await cli(0, ['gc', '--json', v.vol])).deleted, 0);
    await cli(0, ['rm', v.at('/one.bin')]);
    assert.equal(json<Gc>(await cli(0, ['gc', '--json', v.vol])).deleted, 0, 'two.bin still uses every block');
    await cli(0, ['rm', v.at('/two.bin')]);
    const gc = await cli(0, ['gc', v.vol]);
    assert.match(gc.stdout, /^freed 4 block\(s\)/);
    assert.equal((await storedBlocks(v.vol)).length, 0);
    const df = json<Df>(await cli(0, ['df', '--json', v.vol]));
    assert.equal(df.blocks, 0);
    assert.equal(df.storedBytes, 0);
  });

  it('gc removes leaked blocks (unknown to the metadata) only once they are older than the limit', async () => {
    await cli(0, ['put', v.local('data.bin'), v.at('/keep.bin')]);
    const [known] = await storedBlocks(v.vol);
    const leakedId = 'ab'.repeat(32);
    const leakedFile = path.join(v.vol, 'blocks', leakedId.slice(0, 2), leakedId);
    await mkdir(path.dirname(leakedFile), { recursive: true });
    await writeFile(leakedFile, randomBytes(100));

    const fsck = json<{ clean: boolean; info: string[] }>(await cli(0, ['fsck', '--json', v.vol]));
    assert.equal(fsck.clean, true, 'a leaked block is not damage');
    assert.ok(fsck.info.some((l) => /1 leaked block/.test(l)), fsck.info.join('\n'));

    const young = json<Gc>(await cli(0, ['gc', '--json', v.vol]));
    assert.equal(young.leaked.deleted, 0);
    assert.equal(young.leaked.kept, 1);

    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(leakedFile, twoHoursAgo, twoHoursAgo);
    const old = json<Gc>(await cli(0, ['gc', '--json', v.vol]));
    assert.equal(old.leaked.deleted, 1);
    const left = await storedBlocks(v.vol);
    assert.ok(!left.includes(leakedId), 'the leaked block is gone');
    assert.ok(left.includes(known), 'blocks in use stay');
    assert.equal((await cli(0, ['cat', v.at('/keep.bin')])).stdout.length > 0, true);
  });
});
