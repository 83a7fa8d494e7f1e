/** The BlockStore contract suite, unchanged, against the compositions over LocalBlockStores and the fault wrapper at rate 0. */
import path from 'node:path';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { FaultInjectingBlockStore } from '../../src/block/compose/FaultInjectingBlockStore.js';
import { ReplicatedBlockStore } from '../../src/block/compose/ReplicatedBlockStore.js';
import { TieredBlockStore } from '../../src/block/compose/TieredBlockStore.js';
import type { BlockStore } from '../../src/block/BlockStore.js';
import { blockStoreContract } from '../contract/blockStoreContract.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

function factory(build: (dir: string) => Promise<BlockStore>) {
  return async () => {
    const dir = await createTempDir('mosaicfs-compose-');
    const store = await build(dir);
    return {
      store,
      cleanup: async () => {
        await store.close();
        await removeTempDir(dir);
      },
    };
  };
}

const local = (dir: string, name: string) => LocalBlockStore.open(path.join(dir, name));

blockStoreContract('FaultInjectingBlockStore at rate 0', factory(async (dir) => new FaultInjectingBlockStore(await local(dir, 'a'), { seed: 7 })));

blockStoreContract('ReplicatedBlockStore (2 locals, quorum 2)', factory(async (dir) => new ReplicatedBlockStore([await local(dir, 'a'), await local(dir, 'b')])));

blockStoreContract('ReplicatedBlockStore (3 locals, quorum 1)', factory(async (dir) => new ReplicatedBlockStore([await local(dir, 'a'), await local(dir, 'b'), await local(dir, 'c')], { writeQuorum: 1 })));

blockStoreContract('TieredBlockStore (keepFast)', factory(async (dir) => TieredBlockStore.open(await local(dir, 'fast'), await local(dir, 'slow'))));

blockStoreContract('TieredBlockStore (move, keepFast false)', factory(async (dir) => TieredBlockStore.open(await local(dir, 'fast'), await local(dir, 'slow'), { keepFast: false })));

blockStoreContract(
  'tiered over a replicated slow tier',
  factory(async (dir) => TieredBlockStore.open(await local(dir, 'fast'), new ReplicatedBlockStore([await local(dir, 'a'), await local(dir, 'b')]))),
);
