/** Store configs: validation of the whole tree, `init` flags, and volumes on composed stores (real folders, SQLite, codec). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ReplicatedBlockStore } from '../../src/block/compose/ReplicatedBlockStore.js';
import { TieredBlockStore } from '../../src/block/compose/TieredBlockStore.js';
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { openBlockStore } from '../../src/block/openBlockStore.js';
import { storeFromFlags } from '../../src/cli/commands/init.js';
import { validateStoreConfig } from '../../src/volume/config.js';
import { initVolume, openVolume } from '../../src/volume/Volume.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const PASS = { passphrase: 'store test' };
const FAST = { scryptN: 1024 };

describe('validateStoreConfig', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ type: 'ftp' }, /store\.type is "ftp"; expected one of local, s3/],
    [{ type: 'local' }, /store\.path is missing/],
    [{ type: 's3', bucket: 'B!' }, /store\.bucket .*not a valid S3 bucket name/],
    [{ type: 's3', bucket: 'bkt', prefix: '/x' }, /store\.prefix must be a string without a leading/],
    [{ type: 's3', bucket: 'bkt', endpoint: 'ftp://x' }, /store\.endpoint .*http/],
    [{ type: 's3', bucket: 'bkt', secretAccessKey: 'x' }, /store\.secretAccessKey is not allowed: secrets never go into the volume config/],
    [{ type: 'discord', channels: [], indexPath: 'i.db' }, /store\.channels must list at least one channel id/],
    [{ type: 'discord', channels: ['abc'], indexPath: 'i.db' }, /store\.channels\[0\] is "abc": not a Discord channel id/],
    [{ type: 'discord', channels: ['123456789012345678'], indexPath: 'i.db', tokens: ['t'] }, /store\.tokens is not allowed: secrets/],
    [{ type: 'peers', peers: ['nohost'] }, /store\.peers\[0\] is "nohost": expected host:port/],
    [{ type: 'peers', discovery: false }, /no node could ever be found/],
    [{ type: 'peers', peers: ['a:1'], replicas: 0 }, /store\.replicas must be an integer from 1/],
    [{ type: 'replicate', stores: [{ type: 'local', path: 'a' }] }, /store\.stores must list at least two/],
    [{ type: 'replicate', stores: [{ type: 'local', path: 'a' }, { type: 's3' }] }, /store\.stores\[1\]\.bucket is missing/],
    [{ type: 'replicate', stores: [{ type: 'local', path: 'a' }, { type: 'local', path: 'b' }], writeQuorum: 3 }, /writeQuorum must be an integer from 1 to 2/],
    [{ type: 'tiered', fast: { type: 'local', path: 'f' } }, /store\.slow is missing/],
    [{ type: 'tiered', fast: { type: 'local', path: 'f' }, slow: { type: 'local', path: 's', extra: 1 } }, /store\.slow\.extra is not a field of a local store/],
  ];
  for (const [cfg, re] of bad) {
    it(`refuses ${JSON.stringify(cfg)}`, () => {
      assert.throws(() => validateStoreConfig(cfg), (err: unknown) => {
        assert.equal((err as Error).name, 'VolumeError');
        assert.match((err as Error).message, re);
        return true;
      });
    });
  }

  it('accepts every backend and nested compositions', () => {
    const tree = {
      type: 'tiered',
      fast: { type: 'local', path: 'blocks' },
      slow: {
        type: 'replicate',
        writeQuorum: 1,
        stores: [
          { type: 's3', bucket: 'my-bucket', prefix: 'vol1', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true },
          { type: 'peers', peers: ['127.0.0.1:7070', '[::1]:7071'], replicas: 2, secretFile: '/etc/mosaicfs/secret' },
          { type: 'discord', channels: ['123456789012345678'], tokensEnv: 'MY_TOKENS', indexPath: 'discord-index.db' },
        ],
      },
    };
    assert.deepEqual(validateStoreConfig(tree), tree);
  });
});

describe('init --store flags', () => {
  it('s3 URL with endpoint, region and path style', async () => {
    assert.deepEqual(await storeFromFlags({ store: 's3://bkt/some/prefix/', s3Endpoint: 'http://127.0.0.1:9000', s3Region: 'eu-west-1', s3PathStyle: true }), {
      type: 's3', bucket: 'bkt', prefix: 'some/prefix', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: true,
    });
  });

  it('discord and peers store secret file paths absolute, never secrets', async () => {
    const d = await storeFromFlags({ store: 'discord', discordChannel: ['123456789012345678', '223456789012345678'], discordTokensFile: 'tok.txt' });
    assert.deepEqual(d, { type: 'discord', channels: ['123456789012345678', '223456789012345678'], tokensFile: path.resolve('tok.txt'), indexPath: 'discord-index.db' });
    const p = await storeFromFlags({ store: 'peers', peer: ['127.0.0.1:7001'], replicas: '3', clusterSecretFile: 'sec', discovery: false });
    assert.deepEqual(p, { type: 'peers', peers: ['127.0.0.1:7001'], replicas: 3, secretFile: path.resolve('sec'), discovery: false });
    await assert.rejects(storeFromFlags({ store: 'discord' }), /needs at least one --discord-channel/);
  });

  it('replicate and tiered from specs', async () => {
    assert.deepEqual(await storeFromFlags({ store: 'replicate', replica: ['local:a', 's3://b-1'], writeQuorum: '1' }), {
      type: 'replicate', stores: [{ type: 'local', path: 'a' }, { type: 's3', bucket: 'b-1' }], writeQuorum: 1,
    });
    assert.deepEqual(await storeFromFlags({ store: 'tiered', slow: 'local:cold', move: true }), {
      type: 'tiered', fast: { type: 'local', path: 'blocks' }, slow: { type: 'local', path: 'cold' }, keepFast: false,
    });
    await assert.rejects(storeFromFlags({ store: 'replicate', replica: ['local:a'] }), /at least two --replica/);
    await assert.rejects(storeFromFlags({ store: 'nfs' }), /unknown store "nfs"/);
  });
});

describe('volumes on composed stores', () => {
  it('init with a replicated store writes the tree to mosaicfs.json, and the volume stores every block on both replicas', async () => {
    const dir = await createTempDir('mosaicfs-store-');
    try {
      const store = { type: 'replicate' as const, stores: [{ type: 'local' as const, path: 'r1' }, { type: 'local' as const, path: 'r2' }] };
      await initVolume(dir, { secret: PASS, blockSize: 64 * 1024, ...FAST, store });
      const json = JSON.parse(await readFile(path.join(dir, 'mosaicfs.json'), 'utf8'));
      assert.deepEqual(json.store, store);
      const vol = await openVolume(dir, { secret: PASS });
      try {
        assert.ok(vol.blocks instanceof ReplicatedBlockStore);
        const plain = Buffer.from('hello replicated world');
        const id = vol.codec.idOf(plain);
        await vol.blocks.put(id, vol.codec.sealWithId(id, plain));
        for (const r of ['r1', 'r2']) {
          const replica = await LocalBlockStore.open(path.join(dir, r));
          assert.ok(await replica.has(id), `${r} has the block`);
          await replica.close();
        }
      } finally {
        await vol.close();
      }
    } finally {
      await removeTempDir(dir);
    }
  });

  it('init refuses a Discord store with a block size over the attachment limit, and leaves nothing behind', async () => {
    const dir = await createTempDir('mosaicfs-store-');
    try {
      const store = { type: 'discord' as const, channels: ['123456789012345678'], indexPath: 'discord-index.db' };
      await assert.rejects(initVolume(path.join(dir, 'v'), { secret: PASS, blockSize: 10 * 1024 * 1024, ...FAST, store }), /too large for Discord/);
      await assert.rejects(readFile(path.join(dir, 'v', 'mosaicfs.json')), { code: 'ENOENT' });
    } finally {
      await removeTempDir(dir);
    }
  });

  it('openBlockStore builds a tiered tree whose blocks reach the slow tier and survive a restart', async () => {
    const dir = await createTempDir('mosaicfs-store-');
    try {
      const cfg = validateStoreConfig({ type: 'tiered', fast: { type: 'local', path: 'fast' }, slow: { type: 'local', path: 'slow' }, keepFast: false });
      const id = 'ab'.repeat(32);
      const data = Buffer.from('tiered block');
      // Put while the slow tier's folder is reachable, but close before the mover ran: the block is only in fast.
      const fastOnly = await LocalBlockStore.open(path.join(dir, 'fast'));
      await fastOnly.put(id, data);
      await fastOnly.close();
      const store = await openBlockStore(cfg, { volumeDir: dir });
      try {
        assert.ok(store instanceof TieredBlockStore);
        await store.drain();
        const slow = await LocalBlockStore.open(path.join(dir, 'slow'));
        const fast = await LocalBlockStore.open(path.join(dir, 'fast'));
        assert.ok((await slow.get(id)).equals(data), 'pushed to the slow tier on open');
        assert.equal(await fast.has(id), false, 'and moved (keepFast false)');
        await slow.close();
        await fast.close();
        assert.ok((await store.get(id)).equals(data), 'read from the slow tier');
      } finally {
        await store.close();
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});
