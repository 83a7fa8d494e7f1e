import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeerBlockStore } from '../../src/block/peers/PeerBlockStore.js';
import { clusterKey } from '../../src/peers/auth.js';
import { probe } from '../../src/peers/discovery.js';
import { peerAgent, PeerClient, PeerRequestError } from '../../src/peers/PeerClient.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { TestCluster } from './cluster.js';

const agent = peerAgent(5000);
after(() => agent.close());

describe('peer mesh: discovery and authentication', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.create();
    await cluster.startMany(3); // no --peer: they only find each other by UDP broadcast on 127.255.255.255
  });
  after(() => cluster?.stopAll());

  it('nodes find each other and a client finds all of them without a static list', async () => {
    const store = await PeerBlockStore.open(
      { type: 'peers', discoveryPort: cluster.discoveryPort, replicas: 2, secretFile: cluster.secretFile },
      { volumeDir: cluster.root, namespace: 'disc' },
      { discoveryAddress: '127.255.255.255', heartbeatMs: 300, startTimeoutMs: 5000 },
    );
    try {
      const until = Date.now() + 5000;
      while (store.nodes().length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(store.nodes().map((n) => n.id).sort(), cluster.live().map((n) => n.id).sort());
      const b = randomBlock(5000);
      await store.put(b.id, b.data);
      assert.ok((await store.get(b.id)).equals(b.data));
    } finally {
      await store.close();
    }
    // Node to node: each node's membership lists the other two as alive.
    const key = clusterKey(cluster.secret);
    for (const n of cluster.live()) {
      const until = Date.now() + 5000;
      let others: string[] = [];
      while (Date.now() < until) {
        const peers = await new PeerClient(n.address, key, agent).peers();
        others = peers.filter((p) => p.state === 'alive' && p.id !== n.id).map((p) => p.id!).sort();
        if (others.length === 2) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(others, cluster.live().filter((m) => m !== n).map((m) => m.id).sort(), `peers of node ${n.index}`);
    }
  });

  it('discovery answers are authenticated: a wrong secret gets no answer, and a stranger node is ignored', async () => {
    const right = await probe(clusterKey(cluster.secret), { port: cluster.discoveryPort, address: '127.255.255.255', waitMs: 400 });
    assert.deepEqual(right.map((a) => a.id).sort(), cluster.live().map((n) => n.id).sort());
    assert.ok(right.every((a) => a.free > 0 && a.capacity > 0));
    const wrong = await probe(clusterKey('not the cluster secret at all'), { port: cluster.discoveryPort, address: '127.255.255.255', waitMs: 400 });
    assert.deepEqual(wrong, []);

    // A node with another secret on the same discovery port: its answers fail the MAC and are ignored.
    const strangerSecret = `${cluster.root}/stranger.secret`;
    await (await import('node:fs/promises')).writeFile(strangerSecret, randomBytes(24).toString('hex'));
    const stranger = await cluster.start(7, [], { secretFile: strangerSecret });
    let ignored = 0;
    const found = await probe(clusterKey(cluster.secret), { port: cluster.discoveryPort, address: '127.255.255.255', waitMs: 400, onIgnored: () => ignored++ });
    assert.ok(!found.some((a) => a.id === stranger.id), 'the stranger is not discovered');
    assert.equal(found.length, 3);
    // Its own probes go unanswered too (the cluster ignores it): nobody appears in its peer list.
    await new Promise((r) => setTimeout(r, 800));
    const strangerPeers = await new PeerClient(stranger.address, clusterKey(await (await import('node:fs/promises')).readFile(strangerSecret, 'utf8')), agent).peers();
    assert.deepEqual(strangerPeers.filter((p) => p.id !== stranger.id), []);
    await cluster.stop(7);
  });

  it('requests without the cluster secret get 401, and a replayed request is refused', async () => {
    const node = cluster.live()[0];
    const bad = new PeerClient(node.address, clusterKey('wrong secret wrong secret'), agent);
    const b = randomBlock(100);
    for (const call of [() => bad.status(), () => bad.put('x', b.id, b.data), () => bad.get('x', b.id)]) {
      await assert.rejects(call(), (err: unknown) => err instanceof PeerRequestError && err.status === 401);
    }
    const [host, port] = node.address.split(':');
    const raw = (headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
      http.get({ host, port: Number(port), path: '/v1/status', headers, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(await raw({}), 401, 'no auth header');
    const { signRequest, EMPTY_BODY_SHA256 } = await import('../../src/peers/auth.js');
    const signed = signRequest(clusterKey(cluster.secret), 'GET', '/v1/status', EMPTY_BODY_SHA256);
    assert.equal(await raw({ 'x-mosaicfs-auth': signed }), 200, 'a fresh signed request');
    assert.equal(await raw({ 'x-mosaicfs-auth': signed }), 401, 'the same request replayed');
    const old = signRequest(clusterKey(cluster.secret), 'GET', '/v1/status', EMPTY_BODY_SHA256, Date.now() - 5 * 60_000);
    assert.equal(await raw({ 'x-mosaicfs-auth': old }), 401, 'outside the time window');
    const other = signRequest(clusterKey(cluster.secret), 'GET', '/v1/peers', EMPTY_BODY_SHA256);
    assert.equal(await raw({ 'x-mosaicfs-auth': other }), 401, 'signed for another path');
  });
});

describe('peer mesh: a full node refuses and placement moves on', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.create();
    await cluster.start(0, ['--no-discovery', '--replicas', '0', '--capacity', '40K']);
    await cluster.start(1, ['--no-discovery', '--replicas', '0', '--capacity', '100M']);
    await cluster.start(2, ['--no-discovery', '--replicas', '0', '--capacity', '100M']);
  });
  after(() => cluster?.stopAll());

  it('every put gets R copies although one node fills up; the full node answers 507', async () => {
    const store = await PeerBlockStore.open(
      { type: 'peers', peers: cluster.live().map((n) => n.address), discovery: false, replicas: 2, secretFile: cluster.secretFile },
      { volumeDir: cluster.root, namespace: 'full' }, { heartbeatMs: 200 },
    );
    const key = clusterKey(cluster.secret);
    const clients = cluster.live().map((n) => new PeerClient(n.address, key, agent));
    try {
      const blocks = Array.from({ length: 30 }, () => randomBlock(8 * 1024));
      for (const b of blocks) await store.put(b.id, b.data);
      const small = await clients[0].status();
      assert.ok(small.used <= 40 * 1024, `the small node stays within its capacity (${small.used})`);
      for (const b of blocks) {
        const holders = (await Promise.all(clients.map((c) => c.head('full', b.id)))).filter(Boolean).length;
        assert.equal(holders, 2, `block ${b.id} has 2 copies`);
        assert.ok((await store.get(b.id)).equals(b.data));
      }
      const big = randomBlock(50 * 1024);
      await assert.rejects(clients[0].put('full', big.id, big.data), (err: unknown) => err instanceof PeerRequestError && err.status === 507);
    } finally {
      await store.close();
    }
  });
});
