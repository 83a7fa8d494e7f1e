/**
 * CachingMetaStore and readdir pages with attributes: the page fills the attribute and entry
 * caches, so the lookups and getattrs that follow (READDIRPLUS, ls -l) never reach the inner store;
 * a plain page teaches nothing, and an invalidation during the page keeps its answer out.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFDIR, S_IFREG, type MetaStore } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { CachingMetaStore } from '../../src/remote/CachingMetaStore.js';
import { now } from '../../src/util/time.js';

describe('CachingMetaStore: readdir withAttrs fills the caches', () => {
  let dir: string;
  let inner: SqliteMetaStore;
  const innerCalls: string[] = [];
  let counted: MetaStore;
  let d: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-rdcache-'));
    inner = SqliteMetaStore.open(path.join(dir, 'meta.db'));
    await inner.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: now() });
    d = (await inner.create(ROOT_INO, 'd', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: now() })).ino;
    for (let i = 0; i < 50; i++) await inner.create(d, `f${i}`, { mode: S_IFREG | 0o644, uid: i, gid: 0, now: now() });
    counted = new Proxy(inner, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        return typeof v === 'function' ? (...a: unknown[]) => { innerCalls.push(String(prop)); return v.apply(target, a); } : v;
      },
    });
  });
  after(async () => {
    await inner?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lookups and getattrs of a page with attributes are hits', async () => {
    const cache = new CachingMetaStore(counted, 60_000);
    const page = await cache.readdir(d, null, 100, true);
    assert.equal(page.entries.length, 50);
    innerCalls.length = 0;
    for (const e of page.entries) {
      assert.deepEqual(await cache.lookup(d, e.name), e.attr);
      assert.deepEqual(await cache.getattr(e.ino), e.attr);
    }
    assert.deepEqual(innerCalls, []);
    assert.equal(cache.cacheStats().hits, 100);
  });

  it('a plain page comes without attributes but still teaches the caches (the kernel looks each entry up next)', async () => {
    const cache = new CachingMetaStore(counted, 60_000);
    const page = await cache.readdir(d, null, 100);
    assert.ok(page.entries.every((e) => e.attr === undefined));
    innerCalls.length = 0;
    const attr = await cache.lookup(d, page.entries[0].name);
    assert.equal(attr?.ino, page.entries[0].ino);
    assert.deepEqual(innerCalls, []);
  });

  it('without a cache (ttl 0) a plain page stays plain and teaches nothing', async () => {
    const cache = new CachingMetaStore(counted, 0);
    const page = await cache.readdir(d, null, 100);
    assert.ok(page.entries.every((e) => e.attr === undefined));
    innerCalls.length = 0;
    await cache.lookup(d, page.entries[0].name);
    assert.deepEqual(innerCalls, ['lookup']);
  });

  it('an invalidation while the page is in flight keeps the page out of the caches', async () => {
    const cache = new CachingMetaStore(counted, 60_000);
    const pending = cache.readdir(d, null, 100, true);
    cache.dropInode(d); // as a change event arriving meanwhile would
    await pending;
    innerCalls.length = 0;
    await cache.lookup(d, 'f1');
    assert.deepEqual(innerCalls, ['lookup']);
  });
  it('xattr names carried by a page answer absent xattrs and listxattr without a request', async () => {
    const f = await inner.lookup(d, 'f3');
    await inner.setxattr(f!.ino, 'user.present', Buffer.from('v'), 0, now());
    // As the server does for pages read with attributes (src/server/metaOps.ts).
    const withNames = new Proxy(counted, {
      get(target, prop, recv) {
        if (prop !== 'readdir') return Reflect.get(target, prop, recv);
        return async (dirIno: number, cur: string | null, limit: number, attrs?: boolean) => {
          const page = await target.readdir(dirIno, cur, limit, attrs);
          if (!attrs) return page;
          return { ...page, entries: await Promise.all(page.entries.map(async (e) => ({ ...e, xattrs: await target.listxattr(e.ino) }))) };
        };
      },
    });
    const cache = new CachingMetaStore(withNames, 60_000);
    const page = await cache.readdir(d, null, 100, true);
    assert.ok(page.entries.every((e) => e.xattrs === undefined), 'names are for the cache, not for callers');
    innerCalls.length = 0;
    await assert.rejects(cache.getxattr(f!.ino, 'security.selinux'), (err: { code?: string }) => err.code === 'ENODATA');
    assert.deepEqual(await cache.listxattr(f!.ino), ['user.present']);
    assert.deepEqual(innerCalls, []);
    assert.deepEqual(await cache.getxattr(f!.ino, 'user.present'), Buffer.from('v'));
    assert.deepEqual(innerCalls, ['getxattr']);
    await cache.removexattr(f!.ino, 'user.present', now()); // forgets what the page said
    innerCalls.length = 0;
    await assert.rejects(cache.getxattr(f!.ino, 'user.present'), (err: { code?: string }) => err.code === 'ENODATA');
    assert.deepEqual(innerCalls, ['getxattr']);
  });
});
