// A tiered store end to end through the CLI and a mount: blocks land in a local folder first and
// move to S3 (s3rver) in the background. After the round trip, the fast tier is thrown away and
// every file still reads from S3. `mosaicfs init --store tiered --fast local:... --slow s3://...`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '../helpers/mountinfo.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { BLOCK_SIZE_FLAG, countLocalBlocks, fullRoundTrip, verifyTree, withDaemonOutput } from './flow.js';
import { listS3Keys, s3Env, s3Spec } from './backendEnv.js';
import { S3rverProcess } from './s3rverProcess.js';

describe('tiered local + S3 backend through the CLI and a mount', { timeout: 150_000 }, () => {
  it('init --store tiered, mount, write, remount, read back, fsck, put/get; then reads from the slow tier alone', async () => {
    const s3 = new S3rverProcess(await makeTempDir(after, 'mosaicfs-e2e-s3-'));
    after(() => s3.kill());
    await s3.start();
    s3Env();
    const { spec, flags } = s3Spec(s3, 'slow');
    const fx = await MountedVolume.create({ after, initArgs: [...BLOCK_SIZE_FLAG, '--store', 'tiered', '--fast', 'local:fast', '--slow', spec, ...flags] });
    const config = JSON.parse(await fs.readFile(path.join(fx.vol, 'mosaicfs.json'), 'utf8')) as { store: unknown };
    assert.deepEqual(config.store, {
      type: 'tiered', fast: { type: 'local', path: 'fast' }, slow: { type: 's3', bucket: s3.bucket, prefix: 'slow', endpoint: s3.endpoint, forcePathStyle: true },
    });

    const tree = await fullRoundTrip(fx);

    // Mounted, the background copier brings the slow tier up to date (blocks written while the
    // volume was open by put/get are pushed at the next open).
    const fastDir = path.join(fx.vol, 'fast');
    const fastBlocks = (): Promise<number> => countLocalBlocks(fastDir);
    await fx.mount();
    const want = await fastBlocks();
    assert.ok(want >= 10, `only ${want} blocks in the fast tier`);
    await withDaemonOutput(fx, async () => {
      assert.ok(await waitFor(async () => (await listS3Keys(s3, 'slow')).length >= want, 30_000, 250),
        `slow tier has ${(await listS3Keys(s3, 'slow')).length} of ${want} blocks`);
    });
    await fx.unmount();

    // Without the fast tier every byte must come from S3.
    await fs.rm(fastDir, { recursive: true });
    await fs.mkdir(fastDir);
    await fx.mount();
    await withDaemonOutput(fx, () => verifyTree(fx.mnt, tree));
    await fx.unmount();
  });
});
