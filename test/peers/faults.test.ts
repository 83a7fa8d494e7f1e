import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockUnavailableError, PeerBlockStore } from '../../src/block/peers/PeerBlockStore.js';
import { BlockNotFoundError } from '../../src/errors.js';
import { clusterKey } from '../../src/peers/auth.js';
import { peerAgent, PeerClient } from '../../src/peers/PeerClient.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { describeRun } from '../helpers/run.js';
import { TestCluster, type RunningNode } from './cluster.js';

const NODE_ARGS = ['--no-discovery', '--replicas', '0', '--scrub-interval', '300ms'];
const agent = peerAgent(5000);
after(() => agent.close());

async function openStore(cluster: TestCluster, ns: string): Promise<PeerBlockStore> {
  return PeerBlockStore.open(
    { type: 'peers', peers: cluster.live().map((n) => n.address), discovery: false, replicas: 2, secretFile: cluster.secretFile },
    { volumeDir: cluster.root, namespace: ns }, { heartbeatMs: 300, deadAfterMs: 1500, startTimeoutMs: 3000 },
  );
}

/** Which of `nodes` hold each block (HEAD on every node). */
async function holders(cluster: TestCluster, nodes: RunningNode[], ns: string, ids: string[]): Promise<Map<string, number[]>> {
  const key = clusterKey(cluster.secret);
  const out = new Map<string, number[]>();
  for (const id of ids) {
    const have = await Promise.all(nodes.map((n) => new PeerClient(n.address, key, agent).head(ns, id)));
    out.set(id, nodes.filter((_, i) => have[i] !== null).map((n) => n.index));
  }
  return out;
}

/** Node 0 first, the others with --peer node0 (no discovery in these tests); membership spreads from there. */
async function startLinked(cluster: TestCluster, n: number): Promise<void> {
  const first = await cluster.start(0, NODE_ARGS);
  await Promise.all(Array.from({ length: n - 1 }, (_, i) => cluster.start(i + 1, [...NODE_ARGS, '--peer', first.address])));
  const key = clusterKey(cluster.secret);
  await eventually('every node knows every other', async () => {
    const views = await Promise.all(cluster.live().map((x) => new PeerClient(x.address, key, agent).peers()));
    return views.every((v) => v.filter((p) => p.state === 'alive').length === n);
  });
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('peer mesh: 3 nodes, R=2, one node lost, repaired, back', () => {
  const made = TestCluster.create();
  after(async () => (await made).stopAll());

  it('every block reads after a SIGKILL, repair restores 2 copies, and deleted blocks stay deleted when the node returns', async () => {
    const cluster = await made;
    await startLinked(cluster, 3);
    const ns = 'vol';
    const blocks = Array.from({ length: 60 }, (_, i) => randomBlock(1000 + i * 300));
    let store = await openStore(cluster, ns);
    try {
      for (const b of blocks) await store.put(b.id, b.data);
      const victim = cluster.nodes[1]!;
      const onVictim = [...(await holders(cluster, cluster.live(), ns, blocks.map((b) => b.id)))].filter(([, h]) => h.includes(1)).map(([id]) => id);
      assert.ok(onVictim.length > 10, 'the victim holds a share of the blocks');

      assert.equal((await cluster.stop(1, 'SIGKILL')).signal, 'SIGKILL');
      const t0 = Date.now();
      for (const b of blocks) assert.ok((await store.get(b.id)).equals(b.data), `block ${b.id} reads with a node down`);
      assert.ok(Date.now() - t0 < 10_000, 'reads do not wait on the dead node');

      const r = await cluster.repair(['--peer', cluster.nodes[0]!.address, '--no-discovery', '--json']);
      assert.equal(r.code, 0, describeRun('repair', r));
      const report = JSON.parse(r.stdout) as { copied: number; lost: unknown[]; down: string[] };
      assert.equal(report.copied, onVictim.length, 'one copy made per block the victim held');
      assert.deepEqual(report.lost, []);
      assert.deepEqual(report.down, [victim.address]);
      for (const [id, h] of await holders(cluster, cluster.live(), ns, blocks.map((b) => b.id))) assert.deepEqual(h, [0, 2], `block ${id} has 2 live copies`);

      // Delete blocks while the victim is down; some of them are still on its disk.
      const doomed = blocks.slice(0, 30);
      for (const b of doomed) await store.delete(b.id);
      const staleOnDisk = doomed.filter((b) => onVictim.includes(b.id));
      assert.ok(staleOnDisk.length > 0, 'the victim has copies of deleted blocks');
      for (const b of staleOnDisk) await fs.access(path.join(victim.dataDir, 'ns', ns, 'blocks', b.id.slice(0, 2), b.id));
      await store.close();

      const back = await cluster.start(1, [...NODE_ARGS, '--peer', cluster.nodes[0]!.address]);
      assert.equal(back.id, victim.id, 'same node identity');
      const key = clusterKey(cluster.secret);
      const backClient = new PeerClient(back.address, key, agent);
      await eventually('the returning node dropped its deleted blocks', async () => {
        const present = await Promise.all(staleOnDisk.map((b) => backClient.head(ns, b.id)));
        return present.every((p) => p === null);
      });

      store = await openStore(cluster, ns);
      await eventually('the client sees all 3 nodes', async () => store.nodes().length === 3);
      const listed = [];
      for await (const info of store.list()) listed.push(info.id);
      assert.deepEqual(listed.sort(), blocks.slice(30).map((b) => b.id).sort(), 'nothing deleted came back');
      for (const b of doomed) await assert.rejects(store.get(b.id), BlockNotFoundError);
      for (const b of blocks.slice(30)) assert.ok((await store.get(b.id)).equals(b.data));
      // The surviving blocks the returning node kept are surplus copies now; repair removes them safely.
      const r2 = await cluster.repair(['--peer', back.address, '--no-discovery', '--json']);
      assert.equal(r2.code, 0, describeRun('second repair', r2));
      for (const [id, h] of await holders(cluster, cluster.live(), ns, blocks.slice(30).map((b) => b.id))) assert.equal(h.length, 2, `block ${id} has exactly 2 copies`);
    } finally {
      await store.close();
    }
  });
});

describe('peer mesh: 5 nodes, R=2, two lost at once', () => {
  const made = TestCluster.create();
  after(async () => (await made).stopAll());

  it('reads of blocks whose replicas both died fail promptly, and repair reports exactly those as lost', async () => {
    const cluster = await made;
    await startLinked(cluster, 5);
    const ns = 'five';
    const blocks = Array.from({ length: 100 }, () => randomBlock(2000));
    const store = await openStore(cluster, ns);
    try {
      for (const b of blocks) await store.put(b.id, b.data);
      const where = await holders(cluster, cluster.live(), ns, blocks.map((b) => b.id));
      const expectedLost = [...where].filter(([, h]) => h.length === 2 && h.includes(1) && h.includes(3)).map(([id]) => id).sort();
      assert.ok(expectedLost.length > 0, 'some blocks live only on nodes 1 and 3');
      // The survivors must have catalogued the victims' blocks before the crash (background scrub).
      const key = clusterKey(cluster.secret);
      const c0 = new PeerClient(cluster.nodes[0]!.address, key, agent);
      await eventually('the catalog knows every block', async () => (await c0.catalog(ns)).entries.length === blocks.length);

      await Promise.all([cluster.stop(1, 'SIGKILL'), cluster.stop(3, 'SIGKILL')]);
      const lostSet = new Set(expectedLost);
      for (const b of blocks) {
        const t0 = Date.now();
        if (lostSet.has(b.id)) {
          await assert.rejects(store.get(b.id), (err: unknown) => err instanceof BlockUnavailableError && /no live peer node/.test(err.message));
          assert.ok(Date.now() - t0 < 3000, 'a lost block fails promptly');
        } else {
          assert.ok((await store.get(b.id)).equals(b.data));
        }
      }
      const t0 = Date.now();
      const r = await cluster.repair(['--peer', cluster.nodes[0]!.address, '--no-discovery', '--json']);
      assert.ok(Date.now() - t0 < 30_000, 'repair does not hang');
      assert.equal(r.code, 1, describeRun('repair', r));
      const report = JSON.parse(r.stdout) as { lost: { id: string; lastHolders: string[] }[]; down: string[]; underReplicated: unknown[] };
      assert.deepEqual(report.lost.map((l) => l.id).sort(), expectedLost);
      assert.equal(report.down.length, 2);
      for (const l of report.lost) assert.deepEqual(l.lastHolders.sort(), [...report.down].sort());
      assert.deepEqual(report.underReplicated, []);
      // Everything not lost has 2 live copies again.
      for (const [id, h] of await holders(cluster, cluster.live(), ns, blocks.map((b) => b.id).filter((id) => !lostSet.has(id)))) assert.equal(h.length, 2, `block ${id}`);
    } finally {
      await store.close();
    }
  });
});
