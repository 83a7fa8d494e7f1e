// A replicated pair end to end through the CLI and a mount: every block on S3 (s3rver) and in a
// local folder. With the volume mounted, s3rver is killed: every file still reads, from the local
// copy. `mosaicfs init --store replicate --replica s3://... --replica local:...` as in docs/BACKENDS.md.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MountedVolume } from '../helpers/mountFixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { BLOCK_SIZE_FLAG, countLocalBlocks, fullRoundTrip } from './flow.js';
import { listS3Keys, s3Env, s3Spec } from './backendEnv.js';
import { S3rverProcess } from './s3rverProcess.js';

describe('replicated S3 + local backend through the CLI and a mount', { timeout: 150_000 }, () => {
  it('init --store replicate, mount, write, remount, kill s3rver, read back, fsck, put/get', async () => {
    const s3 = new S3rverProcess(await makeTempDir(after, 'mosaicfs-e2e-s3-'));
    after(() => s3.kill());
    await s3.start();
    s3Env();
    const { spec, flags } = s3Spec(s3, 'rep');
    const fx = await MountedVolume.create({
      after, initArgs: [...BLOCK_SIZE_FLAG, '--store', 'replicate', '--replica', spec, '--replica', 'local:replica', ...flags],
    });
    const config = JSON.parse(await fs.readFile(path.join(fx.vol, 'mosaicfs.json'), 'utf8')) as { store: unknown };
    assert.deepEqual(config.store, {
      type: 'replicate',
      stores: [{ type: 's3', bucket: s3.bucket, prefix: 'rep', endpoint: s3.endpoint, forcePathStyle: true }, { type: 'local', path: 'replica' }],
    });

    await fullRoundTrip(fx, {
      afterRemount: async () => {
        // Both replicas got every block (write quorum: all)...
        const local = await countLocalBlocks(path.join(fx.vol, 'replica'));
        const remote = (await listS3Keys(s3, 'rep')).length;
        assert.ok(local >= 8 && remote === local, `blocks: ${local} in the local replica, ${remote} in S3`);
        // ...so with S3 gone (a crash: SIGKILL), reads come from the local copy.
        await s3.kill();
      },
      // fsck and put need both replicas again (a write waits for every copy): s3rver is back, same port and folder.
      beforeFsck: () => s3.start(),
    });
  });
});
