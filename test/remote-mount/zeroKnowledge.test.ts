/**
 * Zero knowledge, checked on the bytes: through a remote mount, write a file full of a random
 * marker, then read every byte the server stored (server.db, users/<id>/meta.db and its -wal,
 * blocks, anything else in its data folder) and look for the marker. The search is shown to work
 * on a planted copy first, and the stored data must be at least as large as what was written (so
 * "not found" cannot come from nothing being stored).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { suiteCleanups } from '../helpers/hooks.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { ServerProcess } from './serverProcess.js';

const USER = { name: 'dave', password: 'dave zero knowledge password' };

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* filesUnder(p);
    else if (e.isFile()) yield p;
  }
}

/** Every stored file that contains any of the needles, and the total bytes searched. */
async function search(dir: string, needles: Buffer[]): Promise<{ hits: string[]; bytes: number; files: number }> {
  const hits: string[] = [];
  let bytes = 0;
  let files = 0;
  for await (const f of filesUnder(dir)) {
    const data = await fs.readFile(f);
    bytes += data.length;
    files++;
    for (const n of needles) if (data.includes(n)) hits.push(`${path.relative(dir, f)} contains ${JSON.stringify(n.toString('latin1').slice(0, 20))}…`);
  }
  return { hits, bytes, files };
}

describe('zero knowledge: the server stores no plaintext', () => {
  const cleanup = suiteCleanups();
  let server: ServerProcess;
  let fx: MountedVolume;
  const marker = Buffer.from(`ZKMARKER-${randomBytes(24).toString('hex')}`);
  let written = 0;

  before(async () => {
    server = await ServerProcess.start(cleanup, [USER]);
    fx = await MountedVolume.create({ after: cleanup, remote: { url: server.url, user: USER.name, password: USER.password } });
    // content: the marker repeated (1 MiB) and a small file holding it once. File names, sizes,
    // times and xattrs are metadata the server sees by design (ARCHITECTURE.md, zero knowledge).
    const big = Buffer.concat(Array.from({ length: Math.ceil((1024 * 1024) / marker.length) }, () => marker));
    await fs.writeFile(path.join(fx.mnt, 'big'), big);
    await fs.writeFile(path.join(fx.mnt, 'small'), Buffer.concat([Buffer.from('head '), marker, Buffer.from(' tail')]));
    written = big.length + marker.length + 10;
    await fx.unmount(); // everything flushed and acknowledged
    await server.stop(); // and nothing held in server memory only
  });

  it('the search finds the marker where it is (positive control)', async () => {
    const planted = path.join(server.root, 'planted');
    await fs.mkdir(planted);
    await fs.writeFile(path.join(planted, 'x'), Buffer.concat([randomBytes(1000), marker, randomBytes(1000)]));
    const r = await search(planted, [marker]);
    assert.equal(r.hits.length, 1);
    await fs.rm(planted, { recursive: true });
  });

  it('file contents: the marker is nowhere in what the server stored', async (t) => {
    const r = await search(server.dataDir, [marker, marker.subarray(0, 16)]);
    t.diagnostic(`searched ${r.files} files, ${r.bytes} bytes`);
    assert.ok(r.bytes >= written, `the server holds ${r.bytes} bytes, less than the ${written} written`);
    assert.deepEqual(r.hits, []);
  });
});
