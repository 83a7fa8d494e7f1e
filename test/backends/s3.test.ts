// S3 end to end through the CLI and a mount: `mosaicfs init --store s3://...` as docs/BACKENDS.md
// shows it, against an s3rver process on loopback; credentials only from the AWS environment.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MountedVolume } from '../helpers/mountFixture.js';
import { isMounted, waitFor } from '../helpers/mountinfo.js';
import { describeRun } from '../helpers/run.js';
import { makeTempDir } from '../helpers/tmp.js';
import { BLOCK_SIZE_FLAG, fullRoundTrip, verifyTree } from './flow.js';
import { listS3Keys, s3Env, s3StoreFlags } from './backendEnv.js';
import { S3rverProcess } from './s3rverProcess.js';

describe('S3 backend through the CLI and a mount', { timeout: 120_000 }, () => {
  it('init --store s3://, mount, write, remount, read back, fsck, put/get, background mount', async () => {
    const s3 = new S3rverProcess(await makeTempDir(after, 'mosaicfs-e2e-s3-'));
    after(() => s3.kill());
    await s3.start();
    s3Env();
    const fx = await MountedVolume.create({ after, initArgs: [...BLOCK_SIZE_FLAG, ...s3StoreFlags(s3, 'vol1')] });
    const config = JSON.parse(await fs.readFile(path.join(fx.vol, 'mosaicfs.json'), 'utf8')) as { store: unknown };
    assert.deepEqual(config.store, { type: 's3', bucket: s3.bucket, prefix: 'vol1', endpoint: s3.endpoint, forcePathStyle: true });
    assert.doesNotMatch(JSON.stringify(config), /S3RVER/, 'no credentials in mosaicfs.json');

    const tree = await fullRoundTrip(fx);

    // The blocks really are objects in the bucket under the prefix.
    const keys = await listS3Keys(s3, 'vol1');
    assert.ok(keys.length >= 8, `expected the blocks in the bucket under vol1/, found ${keys.length}: ${keys.join(', ')}`);

    // The ordinary background mount (a detached daemon that must inherit the AWS environment),
    // which also shows the file put while unmounted.
    const runtime = { MOSAICFS_RUNTIME_DIR: path.join(fx.root, 'run') };
    const mount = await fx.cli(['mount', fx.vol, fx.mnt], { env: runtime });
    assert.equal(mount.code, 0, describeRun('mosaicfs mount (background)', mount));
    assert.ok(await waitFor(() => isMounted(fx.mnt), 20_000), 'background mount did not appear');
    await verifyTree(fx.mnt, tree);
    const umount = await fx.cli(['umount', fx.mnt], { env: runtime });
    assert.equal(umount.code, 0, describeRun('mosaicfs umount', umount));
    assert.equal(await isMounted(fx.mnt), false);
  });
});
