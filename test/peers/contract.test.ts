import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { PeerBlockStore } from '../../src/block/peers/PeerBlockStore.js';
import { blockStoreContract } from '../contract/blockStoreContract.js';
import { TestCluster } from './cluster.js';

// The BlockStore contract, unchanged, over 3 real node processes with R=2. Each test gets a fresh
// namespace on the same nodes, so it starts from an empty store.
let cluster: TestCluster;
before(async () => {
  cluster = await TestCluster.create();
  await cluster.startMany(3, ['--no-discovery', '--replicas', '0']);
});
after(async () => {
  await cluster?.stopAll();
});

blockStoreContract('PeerBlockStore (3 nodes, R=2)', async () => {
  const store = await PeerBlockStore.open(
    { type: 'peers', peers: cluster.live().map((n) => n.address), discovery: false, replicas: 2, secretFile: cluster.secretFile },
    { volumeDir: cluster.root, namespace: randomBytes(8).toString('hex') },
    { heartbeatMs: 300, deadAfterMs: 1500 },
  );
  return { store, cleanup: () => store.close() };
});
