import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { cli, json, newVolume, type TestVolume } from './fixture.js';

interface FsckJson {
  clean: boolean;
  problems: string[];
  info: string[];
  blocksChecked: number;
  filesAffected: string[];
}

describe('fsck and damaged blocks', () => {
  const cleanup = suiteCleanups();
  let v: TestVolume;
  before(async () => {
    v = await newVolume(cleanup);
    await writeFile(v.local('victim.bin'), randomBytes(300_000));
    await writeFile(v.local('bystander.txt'), 'not affected\n');
    await cli(0, ['mkdir', v.at('/docs')]);
    await cli(0, ['put', v.local('victim.bin'), v.local('bystander.txt'), v.at('/docs/')]);
  });

  it('fsck of a healthy volume is clean and exits 0', async () => {
    const r = await cli(0, ['fsck', v.vol]);
    assert.match(r.stdout, /2 block\(s\) checked; volume is clean/);
    const report = json<FsckJson>(await cli(0, ['fsck', '--json', v.vol]));
    assert.deepEqual({ ...report, info: [] }, { clean: true, problems: [], info: [], blocksChecked: 2, filesAffected: [], leakedBlocks: { count: 0, bytes: 0 } });
  });

  it('a flipped byte in a stored block: fsck exits 1 naming the block and the file; cat fails with EIO', async () => {
    const victim = await readFile(v.local('victim.bin'));
    const blockFiles = (await readdir(path.join(v.vol, 'blocks'), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
      .map((e) => ({ id: e.name, file: path.join(e.parentPath, e.name) }));
    // The victim's block is the big one (300 000 bytes plus the seal).
    const sizes = await Promise.all(blockFiles.map(async (b) => (await readFile(b.file)).length));
    const target = blockFiles[sizes.indexOf(Math.max(...sizes))];
    assert.ok(Math.max(...sizes) > victim.length);
    const bytes = await readFile(target.file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(target.file, bytes);

    const r = await cli(1, ['fsck', v.vol]);
    assert.match(r.stdout, new RegExp(`problem: block ${target.id} is corrupt.*used by /docs/victim\\.bin`));
    const report = json<FsckJson>(await cli(1, ['fsck', '--json', v.vol]));
    assert.equal(report.clean, false);
    assert.deepEqual(report.filesAffected, ['/docs/victim.bin']);
    assert.equal(report.problems.length, 1);

    const cat = await cli(1, ['cat', v.at('/docs/victim.bin')]);
    assert.match(cat.stderr, new RegExp(`^mosaicfs: cat .*:/docs/victim\\.bin: EIO: block ${target.id} failed integrity check`, 'm'));
    assert.doesNotMatch(cat.stderr, /\n\s+at /, 'no stack trace');
    assert.equal((await cli(0, ['cat', v.at('/docs/bystander.txt')])).stdout, 'not affected\n');
  });

  it('a missing block is a problem too', async () => {
    // The smallest block is the bystander's (a row of blocks/small.db or a file: the store decides).
    const store = await LocalBlockStore.open(path.join(v.vol, 'blocks'));
    let bystander = { id: '', size: Infinity };
    try {
      for await (const b of store.list()) if (b.size < bystander.size) bystander = { id: b.id, size: b.size };
      await store.delete(bystander.id);
    } finally {
      await store.close();
    }
    const report = json<FsckJson>(await cli(1, ['fsck', '--json', '--no-verify', v.vol]));
    assert.ok(report.problems.some((p) => p.includes(`block ${bystander.id} is missing`) && p.includes('/docs/bystander.txt')), report.problems.join('\n'));
    assert.deepEqual(report.filesAffected, ['/docs/bystander.txt'], 'without verification the corrupt block is not noticed');
  });
});
