import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { attempt } from '../helpers/errno.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { describeRun } from '../helpers/run.js';

const MiB = 1024 * 1024;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

describe('integrity: a flipped byte in a stored block', () => {
  const cleanup = suiteCleanups();

  it('makes reads of that range fail with EIO, other ranges still read, and fsck names the block and the file', async () => {
    const fx = await MountedVolume.create({ after: cleanup });
    const victim = randomBytes(20 * MiB); // several 4 MiB blocks
    const bystander = randomBytes(100_000);
    await fs.mkdir(path.join(fx.mnt, 'docs'));
    await fs.writeFile(path.join(fx.mnt, 'docs', 'victim.bin'), victim);
    await fs.writeFile(path.join(fx.mnt, 'bystander.bin'), bystander);
    await fx.unmount();

    const blockFiles = await listFiles(path.join(fx.vol, 'blocks'));
    assert.ok(blockFiles.length >= 3, `expected several stored blocks, found ${blockFiles.length}`);
    const sizes = await Promise.all(blockFiles.map(async (f) => (await fs.stat(f)).size));
    // The largest block belongs to the 20 MiB file (the bystander's is ~100 kB).
    const target = blockFiles[sizes.indexOf(Math.max(...sizes))];
    // The id is the last 64 hex digits of the path under blocks/, whether the layout is <id> or ab/cd/<id> or ab/<rest>.
    const blockId = path.relative(path.join(fx.vol, 'blocks'), target).replaceAll('/', '').match(/[0-9a-f]{64}$/)?.[0];
    assert.ok(blockId, `cannot find a block id in ${target}`);
    const bytes = await fs.readFile(target);
    const at = Math.floor(bytes.length / 2);
    bytes[at] ^= 0x01;
    await fs.writeFile(target, bytes);

    await fx.mount();
    const fh = await fs.open(path.join(fx.mnt, 'docs', 'victim.bin'), 'r');
    const failed: number[] = [];
    const good: number[] = [];
    try {
      for (let off = 0; off < victim.length; off += MiB) {
        const buf = Buffer.alloc(MiB);
        const r = await attempt(() => fh.read(buf, 0, MiB, off));
        if (!r.ok) {
          assert.equal(r.code, 'EIO', `read at ${off}`);
          failed.push(off / MiB);
        } else {
          // Blocks are authenticated per 64 KiB segment: a read may return the good bytes before the
          // bad segment (a short read, like a disk with a bad sector); reading on from there is EIO.
          const n = r.value.bytesRead;
          assert.ok(buf.subarray(0, n).equals(victim.subarray(off, off + n)), `wrong data (not EIO) at MiB ${off / MiB}`);
          if (n === MiB) good.push(off / MiB);
          else {
            const rest = await attempt(() => fh.read(Buffer.alloc(MiB - n), 0, MiB - n, off + n));
            assert.ok(!rest.ok && rest.code === 'EIO', `short read at ${off} (${n} bytes) must be followed by EIO`);
            failed.push(off / MiB);
          }
        }
      }
    } finally {
      await fh.close();
    }
    assert.ok(failed.length > 0, 'reading the corrupted block must fail with EIO');
    assert.ok(good.length >= 8, `the other blocks must still read; good MiB: ${good}, failed MiB: ${failed}`);
    assert.ok(failed.length <= 8, `one bad 4 MiB block should not fail ${failed.length} MiB`);
    assert.ok((await fs.readFile(path.join(fx.mnt, 'bystander.bin'))).equals(bystander), 'other files read');
    await fx.unmount();

    const fsck = await fx.fsck();
    assert.equal(fsck.code, 1, describeRun('mosaicfs fsck', fsck));
    const said = fsck.stdout + fsck.stderr;
    assert.ok(said.includes(blockId), `fsck should name block ${blockId}\n${said}`);
    assert.ok(said.includes('/docs/victim.bin'), `fsck should name /docs/victim.bin\n${said}`);
    assert.ok(!said.includes('bystander'), `fsck must not blame the bystander\n${said}`);
  });
});
