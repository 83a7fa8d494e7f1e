// A backend that is down, through a mount: writes are taken into the write-back buffer, fsync
// waits (the data layer retries transient upload failures), and once the backend is back (same
// address, same data) fsync returns and everything reads back after a remount. For S3 the
// s3rver process is killed and restarted on its port and folder; for peers, 2 of 3 nodes (R=2)
// are killed and restarted on their ports and data folders.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { trackChild } from '../helpers/cleanup.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { TestCluster } from '../peers/cluster.js';
import { assertFsckClean, BLOCK_SIZE, BLOCK_SIZE_FLAG, verifyTree, withDaemonOutput, writeTree, type Tree } from './flow.js';
import { peersFlags, s3Env, s3StoreFlags } from './backendEnv.js';
import { S3rverProcess } from './s3rverProcess.js';

/** How long fsync must stay blocked while the backend is down before we bring it back. */
const DOWN_MS = 3000;

/**
 * Copies argv[1] to argv[2] (on the mount) in 32 KiB writes, prints "written <ms>", fsyncs, prints
 * "synced", exits 0. A separate process on purpose: while this test holds a FUSE file open,
 * every process it forks would close that descriptor at exec (O_CLOEXEC), which sends the daemon
 * a FLUSH that waits for the upload -- so restarting the backend from here would hang until the
 * upload deadline.
 */
const WRITER = `
const fs = require('node:fs');
const [src, dst] = process.argv.slice(1);
const data = fs.readFileSync(src);
const fd = fs.openSync(dst, 'w', 0o644);
const t0 = performance.now();
for (let off = 0; off < data.length; off += 32768) fs.writeSync(fd, data, off, Math.min(32768, data.length - off), off);
process.stdout.write('written ' + Math.round(performance.now() - t0) + '\\n');
fs.fsyncSync(fd);
process.stdout.write('synced\\n');
fs.closeSync(fd);
`;

/**
 * With the backend down (`takeDown` done): write a multi-block file through the mount (the writes
 * must return: the buffer takes them), fsync it; fsync must still be waiting after DOWN_MS;
 * `bringBack`; fsync must then succeed. Returns the file's contents (at outage.bin).
 */
async function writeThroughOutage(fx: MountedVolume, takeDown: () => Promise<void>, bringBack: () => Promise<void>): Promise<Buffer> {
  const data = randomBytes(Math.round(BLOCK_SIZE * 3.5));
  const src = path.join(fx.root, 'outage.src');
  await fs.writeFile(src, data);
  await takeDown();
  const writer = spawn(process.execPath, ['-e', WRITER, src, path.join(fx.mnt, 'outage.bin')], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(writer);
  let out = '';
  let err = '';
  writer.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  writer.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number | null>((resolve) => writer.once('exit', (code) => resolve(code)));
  const writtenBy = performance.now() + DOWN_MS + 10_000;
  while (!out.includes('written') && performance.now() < writtenBy && writer.exitCode === null) await sleep(25);
  assert.match(out, /written (\d+)/, `the writes did not return with the backend down (they should land in the buffer): ${out} ${err}`);
  await sleep(DOWN_MS);
  assert.doesNotMatch(out, /synced/, 'fsync returned while the backend was down');
  assert.equal(writer.exitCode, null, `the writer exited while the backend was down: ${err}`);
  await bringBack();
  const t1 = performance.now();
  const code = await exited;
  assert.equal(code, 0, `fsync failed after the backend came back: ${out} ${err}`);
  assert.match(out, /synced/);
  process.stderr.write(`# writes returned in ${/written (\d+)/.exec(out)![1]} ms; fsync returned ${Math.round(performance.now() - t1)} ms after the backend came back\n`);
  return data;
}

/** Baseline data before the outage, the outage itself, then remount + read back + fsck. */
async function outageStory(fx: MountedVolume, takeDown: () => Promise<void>, bringBack: () => Promise<void>): Promise<void> {
  await withDaemonOutput(fx, async () => {
    const tree: Tree = new Map([['before.bin', randomBytes(BLOCK_SIZE + 1000)]]);
    await writeTree(fx.mnt, tree);
    tree.set('outage.bin', await writeThroughOutage(fx, takeDown, bringBack));
    await fx.remount();
    await verifyTree(fx.mnt, tree);
    await fx.unmount();
  });
  await assertFsckClean(fx, 6);
}

describe('backend down through a mount: writes wait in the buffer and drain when it is back', { timeout: 180_000 }, () => {
  // Well above the outage plus a slow machine: the retry deadline must not be what ends the wait.
  process.env.MOSAICFS_UPLOAD_DEADLINE_MS = '120000';

  it('S3: s3rver killed, then restarted on the same port and folder', async () => {
    const s3 = new S3rverProcess(await makeTempDir(after, 'mosaicfs-e2e-s3-'));
    after(() => s3.kill());
    await s3.start();
    s3Env();
    const fx = await MountedVolume.create({ after, initArgs: [...BLOCK_SIZE_FLAG, ...s3StoreFlags(s3, 'outage')] });
    const port = s3.port;
    await outageStory(fx, () => s3.kill(), async () => {
      await s3.start();
      assert.equal(s3.port, port);
    });
  });

  it('peers (R=2 of 3): two nodes killed, then restarted on the same ports and data folders', async () => {
    const cluster = await TestCluster.create();
    after(() => cluster.stopAll());
    const nodes = await cluster.startMany(3);
    const fx = await MountedVolume.create({ after, initArgs: [...BLOCK_SIZE_FLAG, '--store', 'peers', ...peersFlags(nodes.map((n) => n.address), cluster.secretFile)] });
    const down = [0, 2];
    await outageStory(fx,
      async () => { await Promise.all(down.map((i) => cluster.stop(i, 'SIGKILL'))); },
      async () => {
        const back = await Promise.all(down.map((i) => cluster.start(i, ['--listen', nodes[i].address])));
        assert.deepEqual(back.map((n) => n.address), down.map((i) => nodes[i].address));
      });
  });
});
