/**
 * Two mounts of one user's volume on one machine (two clients of one `mosaicfs serve`): what one
 * does is seen through the other within a second, which needs the server's change events to reach
 * the other kernel's caches (FUSE_NOTIFY_INVAL_*). Long cache timeouts on the watching mount make
 * sure it is the invalidation, not an expiring cache, that shows the change.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { suiteCleanups } from '../helpers/hooks.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { ServerProcess } from './serverProcess.js';

const USER = { name: 'alice', password: 'alice password for two mounts' };
const WITHIN_MS = 1000;

/** Poll `check` until it holds or `ms` pass; returns how long it took. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`${what}: not seen within ${ms} ms`);
    await sleep(20);
  }
}

const exists = (p: string) => fs.lstat(p).then(() => true, () => false);

describe('two mounts of one user see each other\'s changes', () => {
  const cleanup = suiteCleanups();
  let a: MountedVolume;
  let b: MountedVolume;

  before(async () => {
    const server = await ServerProcess.start(cleanup, [{ name: USER.name, password: USER.password }]);
    const remote = { url: server.url, user: USER.name, password: USER.password };
    a = await MountedVolume.create({ after: cleanup, remote });
    b = await MountedVolume.create({ after: cleanup, remote, mountArgs: ['-o', 'attr_timeout=30,entry_timeout=30'] });
  });

  it('create, change, rename and remove through one mount show through the other within a second', async (t) => {
    const times: number[] = [];
    await fs.mkdir(path.join(a.mnt, 'shared'));
    times.push(await within(WITHIN_MS, 'mkdir', () => exists(path.join(b.mnt, 'shared'))));
    // b looks first, so its kernel caches the listing, the names and the attributes
    assert.deepEqual(await fs.readdir(path.join(b.mnt, 'shared')), []);
    assert.equal(await exists(path.join(b.mnt, 'shared', 'f')), false);

    const v1 = randomBytes(10_000);
    await fs.writeFile(path.join(a.mnt, 'shared', 'f'), v1);
    times.push(await within(WITHIN_MS, 'create', async () => (await fs.readFile(path.join(b.mnt, 'shared', 'f'))).equals(v1)));
    assert.deepEqual(await fs.readdir(path.join(b.mnt, 'shared')), ['f']);

    const v2 = randomBytes(20_000);
    await fs.writeFile(path.join(a.mnt, 'shared', 'f'), v2);
    times.push(await within(WITHIN_MS, 'change', async () =>
      (await fs.stat(path.join(b.mnt, 'shared', 'f'))).size === v2.length && (await fs.readFile(path.join(b.mnt, 'shared', 'f'))).equals(v2)));

    // same size, new bytes: only the data (page cache) invalidation can show it
    const v3 = randomBytes(20_000);
    const fh = await fs.open(path.join(a.mnt, 'shared', 'f'), 'r+');
    await fh.write(v3, 0, v3.length, 0);
    await fh.close();
    times.push(await within(WITHIN_MS, 'overwrite in place', async () => (await fs.readFile(path.join(b.mnt, 'shared', 'f'))).equals(v3)));

    await fs.rename(path.join(a.mnt, 'shared', 'f'), path.join(a.mnt, 'shared', 'g'));
    times.push(await within(WITHIN_MS, 'rename', async () =>
      !(await exists(path.join(b.mnt, 'shared', 'f'))) && (await fs.readFile(path.join(b.mnt, 'shared', 'g'))).equals(v3)));

    await fs.chmod(path.join(a.mnt, 'shared', 'g'), 0o600);
    times.push(await within(WITHIN_MS, 'chmod', async () => ((await fs.stat(path.join(b.mnt, 'shared', 'g'))).mode & 0o777) === 0o600));

    await fs.unlink(path.join(a.mnt, 'shared', 'g'));
    times.push(await within(WITHIN_MS, 'unlink', async () => !(await exists(path.join(b.mnt, 'shared', 'g')))));
    await fs.rmdir(path.join(a.mnt, 'shared'));
    times.push(await within(WITHIN_MS, 'rmdir', async () => !(await exists(path.join(b.mnt, 'shared')))));

    // and the other way round
    await fs.writeFile(path.join(b.mnt, 'from-b'), 'hello from b');
    times.push(await within(WITHIN_MS, 'b -> a', async () => (await fs.readFile(path.join(a.mnt, 'from-b'), 'utf8')) === 'hello from b'));
    t.diagnostic(`propagation times (ms): ${times.join(', ')}`);
  });

  it('both unmount cleanly', async () => {
    await a.unmount();
    await b.unmount();
  });
});
