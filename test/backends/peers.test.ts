// LAN peers end to end through the CLI and a mount: three real `mosaicfs node` processes on
// 127.0.0.10-12, `mosaicfs init --store peers ... --replicas 2 --cluster-secret-file F` as
// docs/BACKENDS.md shows it; one node is killed while mounted and every file still reads.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MountedVolume } from '../helpers/mountFixture.js';
import { TestCluster } from '../peers/cluster.js';
import { BLOCK_SIZE_FLAG, fullRoundTrip } from './flow.js';
import { peersFlags } from './backendEnv.js';

describe('LAN peers backend through the CLI and a mount', { timeout: 150_000 }, () => {
  it('init --store peers (R=2 of 3), mount, write, remount, kill a node, read back, fsck, put/get', async () => {
    const cluster = await TestCluster.create();
    after(() => cluster.stopAll());
    const nodes = await cluster.startMany(3);
    const fx = await MountedVolume.create({ after, initArgs: [...BLOCK_SIZE_FLAG, '--store', 'peers', ...peersFlags(nodes.map((n) => n.address), cluster.secretFile)] });
    const config = JSON.parse(await fs.readFile(path.join(fx.vol, 'mosaicfs.json'), 'utf8')) as { store: unknown };
    assert.deepEqual(config.store, { type: 'peers', peers: nodes.map((n) => n.address), replicas: 2, secretFile: cluster.secretFile, discovery: false });
    assert.doesNotMatch(JSON.stringify(config), new RegExp(cluster.secret), 'no cluster secret in mosaicfs.json');

    let killed = '';
    await fullRoundTrip(fx, {
      // With the data written and the volume freshly mounted (cold caches), one node dies.
      afterRemount: async () => {
        const stopped = await cluster.stop(1, 'SIGKILL');
        assert.equal(stopped.signal, 'SIGKILL');
        killed = nodes[1].address;
      },
    });
    assert.ok(killed, 'a node was killed during the round trip');
    // Each block has two copies: the two live nodes together hold every block.
    const blockFiles = async (dir: string): Promise<number> =>
      (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile() && /^[0-9a-f]{64}$/.test(d.name)).length;
    const counts = await Promise.all(nodes.map((n) => blockFiles(n.dataDir)));
    assert.ok(counts.reduce((a, b) => a + b) >= 2 * 8, `block copies per node: ${counts.join(', ')}`);
  });
});
