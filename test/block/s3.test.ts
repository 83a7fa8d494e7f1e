import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3BlockStore } from '../../src/block/s3/S3BlockStore.js';
import { KeyLayout } from '../../src/block/s3/keyLayout.js';
import { BlockNotFoundError } from '../../src/errors.js';
import type { BlockInfo, BlockStore } from '../../src/block/BlockStore.js';
import { blockStoreContract, randomBlock } from '../contract/blockStoreContract.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3Server.js';

// The store takes credentials from the SDK's default chain, as in production: here, the environment.
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let serverStarting: Promise<S3TestServer> | undefined;
/** One s3rver process for the whole file, started on first use. */
const server = (): Promise<S3TestServer> => (serverStarting ??= startS3Server());
after(async () => {
  if (serverStarting) await (await serverStarting).stop();
});

const freshPrefix = (): string => `t-${randomBytes(6).toString('hex')}`;

async function openStore(prefix: string, namespace?: string, listPageSize?: number): Promise<S3BlockStore> {
  const srv = await server();
  return S3BlockStore.open({ type: 's3', bucket: srv.bucket, endpoint: srv.endpoint, prefix }, { volumeDir: '/nonexistent', namespace }, { listPageSize });
}

async function ids(store: BlockStore): Promise<string[]> {
  const out: BlockInfo[] = [];
  for await (const info of store.list()) out.push(info);
  return out.map((i) => i.id).sort();
}

blockStoreContract('S3BlockStore (s3rver)', async () => {
  const store = await openStore(freshPrefix());
  return { store, cleanup: () => store.close() };
});

describe('S3BlockStore specifics', () => {
  const opened: S3BlockStore[] = [];
  const open = async (prefix: string, namespace?: string, listPageSize?: number): Promise<S3BlockStore> => {
    const s = await openStore(prefix, namespace, listPageSize);
    opened.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });

  it('namespaces of one prefix do not see each other, nor the store without a namespace', async () => {
    const prefix = freshPrefix();
    const root = await open(prefix);
    const alpha = await open(prefix, 'alpha');
    const beta = await open(prefix, 'beta');
    const [r, a, b] = [randomBlock(100), randomBlock(200), randomBlock(300)];
    await root.put(r.id, r.data);
    await alpha.put(a.id, a.data);
    await beta.put(b.id, b.data);
    assert.deepEqual(await ids(root), [r.id]);
    assert.deepEqual(await ids(alpha), [a.id]);
    assert.deepEqual(await ids(beta), [b.id]);
    await assert.rejects(alpha.get(b.id), BlockNotFoundError);
    await assert.rejects(beta.getRange(a.id, 0, 10), BlockNotFoundError);
    assert.equal(await root.has(a.id), false);
    await alpha.delete(b.id); // a no-op in alpha
    assert.ok((await beta.get(b.id)).equals(b.data));
  });

  it('a namespace named like a fan-out pair stays apart from the parent', async () => {
    const prefix = freshPrefix();
    const root = await open(prefix);
    const b = randomBlock(50);
    const ns = await open(prefix, b.id.slice(0, 2));
    await root.put(b.id, b.data);
    assert.deepEqual(await ids(ns), []);
    assert.equal(await ns.has(b.id), false);
    const c = randomBlock(60);
    await ns.put(c.id, c.data);
    assert.deepEqual(await ids(root), [b.id]);
  });

  it('stores blocks under prefix/namespace/ab/<id> and lists across pages', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix, 'ns1', 7);
    const blocks = Array.from({ length: 40 }, () => randomBlock(8));
    await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
    assert.deepEqual(await ids(store), blocks.map((b) => b.id).sort());
    const srv = await server();
    const client = new S3Client({ endpoint: srv.endpoint, region: 'us-east-1', forcePathStyle: true });
    try {
      const page = await client.send(new ListObjectsV2Command({ Bucket: srv.bucket, Prefix: `${prefix}/`, MaxKeys: 5 }));
      for (const obj of page.Contents ?? []) assert.match(obj.Key!, new RegExp(`^${prefix}/ns1/([0-9a-f]{2})/\\1[0-9a-f]{62}$`));
      assert.equal(page.Contents?.length, 5);
    } finally {
      client.destroy();
    }
  });

  it('the name says bucket and key base', async () => {
    const store = await open('some/prefix/', 'abc');
    assert.equal(store.name, `s3://${(await server()).bucket}/some/prefix/abc/`);
  });
});

describe('KeyLayout', () => {
  const id = 'ab' + 'c'.repeat(62);
  it('leaves out empty segments and strips slashes from the prefix', () => {
    assert.equal(new KeyLayout(undefined, undefined).keyOf(id), `ab/${id}`);
    assert.equal(new KeyLayout('', 'ns').keyOf(id), `ns/ab/${id}`);
    assert.equal(new KeyLayout('/p/q/', undefined).keyOf(id), `p/q/ab/${id}`);
    assert.equal(new KeyLayout('p', 'ns').keyOf(id), `p/ns/ab/${id}`);
  });
  it('maps back only keys of exactly its own shape', () => {
    const k = new KeyLayout('p', undefined);
    assert.equal(k.idOfKey(`p/ab/${id}`), id);
    assert.equal(k.idOfKey(`p/ns/ab/${id}`), undefined);
    assert.equal(k.idOfKey(`p/cd/${id}`), undefined, 'pair must match the id');
    assert.equal(k.idOfKey(`q/ab/${id}`), undefined);
    assert.equal(k.idOfKey(`p/ab/${id}x`), undefined);
  });
  it('rejects malformed namespaces and ids', () => {
    assert.throws(() => new KeyLayout('p', 'Bad/ns'), /namespace/);
    assert.throws(() => new KeyLayout('p', undefined).keyOf('../x'), TypeError);
  });
});

describe('s3rver helper', () => {
  let srv: S3TestServer;
  before(async () => { srv = await startS3Server('other-bucket'); });
  it('runs s3rver as a separate process that stop() ends', async () => {
    assert.notEqual(srv.pid, process.pid);
    assert.match(srv.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    process.kill(srv.pid, 0); // alive
    await srv.stop();
    assert.throws(() => process.kill(srv.pid, 0), /ESRCH/);
  });
  after(() => srv?.stop());
});
