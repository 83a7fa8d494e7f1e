import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { FsError, VolumeError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFREG, type MetaStore, type Timespec } from '../../src/meta/MetaStore.js';
import { META_SCHEMA_VERSION, PostgresMetaStore } from '../../src/meta/postgres/PostgresMetaStore.js';
import { schemaVersion } from '../../src/meta/postgres/migrate.js';
import { createPostgresPool } from '../../src/meta/postgres/pgClient.js';
import { metaStoreContract } from '../contract/metaStoreContract.js';
import { startPostgresCluster, uniqueName, type PostgresCluster } from '../helpers/postgresCluster.js';

const CHUNK = 4 * 1024 * 1024;
let cluster: PostgresCluster;
let pool: pg.Pool;

before(async () => {
  cluster = await startPostgresCluster();
  pool = createPostgresPool(cluster.url, 8);
});

after(async () => {
  await pool?.end();
  await cluster?.stop();
});

async function dropSchema(schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * The link limit is lowered for the contract run: the limit logic is the same at any value, and
 * 65,000 serializable link transactions on one inode take minutes on this machine.
 */
const TEST_LINK_MAX = 2000;

metaStoreContract('PostgresMetaStore', async () => {
  const schema = uniqueName('contract');
  const store = await PostgresMetaStore.open({ pool, schema, chunkSize: CHUNK, linkMax: TEST_LINK_MAX });
  return {
    store,
    chunkSize: store.chunkSize,
    linkMax: store.linkMax,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});

const T: Timespec = { sec: 1_700_000_000, nsec: 5 };
const ID = (n: number | string) => createHash('sha256').update(`block ${n}`).digest('hex');

async function problems(store: MetaStore): Promise<string[]> {
  return (await store.check()).filter((l) => !l.startsWith('orphan:'));
}

/** Settles every promise; returns the values of the fulfilled ones and the errno codes of the rejected. */
async function outcomes<T>(ps: Array<Promise<T>>): Promise<{ ok: T[]; codes: string[] }> {
  const res = await Promise.allSettled(ps);
  const ok: T[] = [];
  const codes: string[] = [];
  for (const r of res) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else if (r.reason instanceof FsError) codes.push(r.reason.code);
    else throw r.reason;
  }
  return { ok, codes };
}

describe('PostgresMetaStore specifics', () => {
  it('keeps everything across close and reopen, records the schema version, refuses another chunk size', async () => {
    const schema = uniqueName('reopen');
    let store = await PostgresMetaStore.open({ pool, schema, chunkSize: 65536 });
    await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    const d = await store.create(ROOT_INO, 'd', { mode: S_IFDIR | 0o700, uid: 1, gid: 2, now: T });
    const f = await store.create(d.ino, 'f', { mode: S_IFREG | 0o644, uid: 1, gid: 2, now: T });
    await store.commitSlices(f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 10, blockId: ID(1), blockOff: 0 }] }],
      [{ id: ID(1), size: 10, storedSize: 40 }], 10, T);
    await store.unlink(d.ino, 'f', T);
    await store.purgeInode(f.ino);
    await store.close();

    store = await PostgresMetaStore.open({ pool, schema, chunkSize: 65536 });
    assert.equal(await schemaVersion(pool, schema), META_SCHEMA_VERSION);
    assert.equal((await store.lookup(ROOT_INO, 'd'))?.ino, d.ino);
    assert.equal(await store.pathOf(d.ino), '/d');
    const g = await store.create(d.ino, 'g', { mode: S_IFREG | 0o644, uid: 1, gid: 2, now: T });
    assert.ok(g.ino > f.ino, 'inode numbers are never reused');
    assert.equal((await store.getBlock(ID(1)))?.refs, 0);
    assert.deepEqual(await problems(store), []);
    await store.close();

    await assert.rejects(PostgresMetaStore.open({ pool, schema, chunkSize: 4096 }), VolumeError);
    await dropSchema(schema);
  });

  it('lets several servers open (and migrate) a fresh schema at the same moment; works on a plain pool too', async () => {
    const schema = uniqueName('race');
    // Plain pools (sessions at READ COMMITTED): one-statement changes then run in explicit SERIALIZABLE transactions.
    const pools = [0, 1, 2, 3].map(() => new pg.Pool({ connectionString: cluster.url, max: 2 }));
    try {
      const stores = await Promise.all(pools.map((p) => PostgresMetaStore.open({ pool: p, schema, chunkSize: CHUNK })));
      await Promise.all(stores.map((s) => s.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T })));
      assert.equal(await schemaVersion(pool, schema), META_SCHEMA_VERSION);
      const f = await stores[0].create(ROOT_INO, 'f', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
      const links = await outcomes(stores.map((s) => s.link(f.ino, ROOT_INO, 'g', T)));
      assert.equal(links.ok.length, 1);
      assert.deepEqual(links.codes, ['EEXIST', 'EEXIST', 'EEXIST']);
      assert.equal((await stores[1].getattr(f.ino)).nlink, 2);
      assert.deepEqual(await stores[0].check(), []);
      for (const s of stores) await s.close();
    } finally {
      for (const p of pools) await p.end();
      await dropSchema(schema);
    }
  });

  it('keeps two schemas of one pool apart', async () => {
    const [a, b] = [uniqueName('apart'), uniqueName('apart')];
    const sa = await PostgresMetaStore.open({ pool, schema: a, chunkSize: CHUNK });
    const sb = await PostgresMetaStore.open({ pool, schema: b, chunkSize: CHUNK });
    for (const s of [sa, sb]) await s.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    await sa.create(ROOT_INO, 'only-in-a', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
    assert.equal(await sb.lookup(ROOT_INO, 'only-in-a'), null);
    assert.notEqual(await sa.lookup(ROOT_INO, 'only-in-a'), null);
    await sa.close();
    await sb.close();
    await dropSchema(a);
    await dropSchema(b);
  });

  it('rejects schema names that are not plain identifiers', async () => {
    await assert.rejects(PostgresMetaStore.open({ pool, schema: 'x"; DROP SCHEMA public; --', chunkSize: CHUNK }), RangeError);
  });
});

describe('PostgresMetaStore: two servers on one schema', () => {
  let schema: string;
  let pools: pg.Pool[];
  let one: PostgresMetaStore;
  let two: PostgresMetaStore;
  let n = 0;
  const fresh = () => `case${++n}`;

  before(async () => {
    schema = uniqueName('twoservers');
    pools = [0, 1].map(() => createPostgresPool(cluster.url, 10));
    one = await PostgresMetaStore.open({ pool: pools[0], schema, chunkSize: 65536 });
    two = await PostgresMetaStore.open({ pool: pools[1], schema, chunkSize: 65536 });
    await one.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
  });
  after(async () => {
    await one?.close();
    await two?.close();
    for (const p of pools ?? []) await p.end();
    await dropSchema(schema);
  });
  const server = (i: number) => (i % 2 === 0 ? one : two);

  it('50 concurrent creates of one name: exactly one succeeds, the others get EEXIST', async () => {
    const dir = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    const { ok, codes } = await outcomes(Array.from({ length: 50 }, (_, i) =>
      server(i).create(dir.ino, 'same', { mode: (i % 3 === 0 ? S_IFDIR : S_IFREG) | 0o644, uid: i, gid: 0, now: T })));
    assert.equal(ok.length, 1);
    assert.deepEqual(codes, Array(49).fill('EEXIST'));
    const page = await two.readdir(dir.ino, null, 100);
    assert.deepEqual(page.entries.map((e) => [e.name, e.ino]), [['same', ok[0].ino]]);
    assert.equal((await one.getattr(dir.ino)).nlink, ok[0].mode & S_IFDIR ? 3 : 2);
    assert.deepEqual(await problems(one), []);
  });

  it('concurrent renames that would form a cycle: one fails with EINVAL and the tree stays a tree', async () => {
    for (let round = 0; round < 8; round++) {
      const top = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const a = await one.create(top.ino, 'a', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const b = await one.create(top.ino, 'b', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      // Deeper variant: x/a and y/b, so the two renames touch disjoint parents.
      const { ok, codes } = await outcomes([
        one.rename(top.ino, 'a', b.ino, 'a', 0, T),
        two.rename(top.ino, 'b', a.ino, 'b', 0, T),
      ]);
      assert.equal(ok.length, 1, `round ${round}`);
      assert.deepEqual(codes, ['EINVAL']);
      const aPath = await one.pathOf(a.ino);
      const bPath = await two.pathOf(b.ino);
      assert.ok(aPath === `${bPath}/a` || bPath === `${aPath}/b`, `${aPath} ${bPath}`);
    }
    // Disjoint parents: /p/x/a moves under /q/y/b while /q/y/b moves under /p/x/a.
    for (let round = 0; round < 8; round++) {
      const top = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const x = await one.create(top.ino, 'x', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const y = await one.create(top.ino, 'y', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const a = await one.create(x.ino, 'a', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const b = await one.create(y.ino, 'b', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const { ok, codes } = await outcomes([
        one.rename(x.ino, 'a', b.ino, 'a', 0, T),
        two.rename(y.ino, 'b', a.ino, 'b', 0, T),
      ]);
      assert.equal(ok.length, 1, `round ${round}`);
      assert.deepEqual(codes, ['EINVAL']);
    }
    assert.deepEqual(await problems(one), []);
  });

  it('a file renamed concurrently to two targets ends up under exactly one of them', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const other = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
      const f = await one.create(dir.ino, 'f', { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
      const { ok, codes } = await outcomes([
        one.rename(dir.ino, 'f', dir.ino, 't1', 0, T),
        two.rename(dir.ino, 'f', other.ino, 't2', 0, T),
      ]);
      assert.equal(ok.length, 1);
      assert.deepEqual(codes, ['ENOENT']);
      const t1 = await two.lookup(dir.ino, 't1');
      const t2 = await two.lookup(other.ino, 't2');
      assert.equal([t1, t2].filter((x) => x !== null).length, 1);
      assert.equal((t1 ?? t2)!.ino, f.ino);
      assert.equal((t1 ?? t2)!.nlink, 1);
      assert.equal(await one.lookup(dir.ino, 'f'), null);
    }
    assert.deepEqual(await problems(one), []);
  });

  it('concurrent commits, truncates and purges sharing blocks keep block refs exact', async () => {
    const dir = await one.create(ROOT_INO, fresh(), { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
    const files = [];
    for (let i = 0; i < 12; i++) files.push(await one.create(dir.ino, `f${i}`, { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T }));
    const shared = [0, 1, 2, 3].map((k) => ({ id: ID(`shared-${schema}-${k}`), size: 4096, storedSize: 4200 }));
    const ops: Array<Promise<unknown>> = [];
    files.forEach((f, i) => {
      for (let w = 0; w < 5; w++) {
        const blk = shared[(i + w) % shared.length];
        ops.push(server(i + w).commitSlices(f.ino, [
          { chunk: w % 2, slices: [{ chunkOff: w * 100, len: 100, blockId: blk.id, blockOff: w * 10 }] },
        ], shared, (w % 2) * 65536 + w * 100 + 100, T));
      }
    });
    await Promise.all(ops);
    let want = 0;
    for (const b of shared) want += (await one.getBlock(b.id))!.refs;
    assert.equal(want, 60);
    // Now shrink some files and purge others, concurrently, from both servers.
    const more: Array<Promise<unknown>> = [];
    files.forEach((f, i) => {
      if (i % 3 === 0) more.push(server(i).truncate(f.ino, 150, T));
      else if (i % 3 === 1) more.push(server(i).unlink(dir.ino, `f${i}`, T).then(() => server(i + 1).purgeInode(f.ino)));
    });
    await Promise.all(more);
    let refs = 0;
    for (const b of shared) refs += (await two.getBlock(b.id))!.refs;
    // Files i%3==0 keep chunk-0 slices that start before 150 (w=0 at 0, w=2 at 200 is cut): 1 each;
    // i%3==2 keep all 5; i%3==1 are gone.
    assert.equal(refs, 4 * 1 + 4 * 5);
    assert.deepEqual(await problems(one), []);
  });
});
