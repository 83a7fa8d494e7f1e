/** Memory block cache, read-ahead, and the disk cache of sealed blocks. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BlockCache } from '../../src/data/BlockCache.js';
import { checkCacheDir, DiskCache } from '../../src/data/DiskCache.js';
import { now } from '../../src/util/time.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { FaultyBlockStore } from './FaultyBlockStore.js';
import { bytes, cachedSegments, createFile, type DataStack, readAll, withStack } from './fixture.js';

const CS = 64 * 1024;

async function blockIds(s: DataStack, ino: number, chunk: number): Promise<string[]> {
  return ((await s.meta.readChunks(ino, chunk, chunk)).get(chunk) ?? []).map((x) => x.blockId);
}

async function fullyCached(s: DataStack, id: string): Promise<boolean> {
  const { cached, of } = await cachedSegments(s, id);
  return cached === of;
}

describe('BlockCache', () => {
  it('is an LRU of block segments bounded by bytes with hit/miss counters', () => {
    const c = new BlockCache(250);
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    c.set(a, 0, Buffer.alloc(100));
    c.set(a, 1, Buffer.alloc(100));
    assert.ok(c.get(a, 0)); // a#0 is now most recent
    c.set(b, 0, Buffer.alloc(100)); // evicts a#1
    assert.equal(c.has(a, 1), false);
    assert.ok(c.has(a, 0) && c.has(b, 0));
    assert.equal(c.bytes, 200);
    assert.equal(c.count, 2);
    assert.equal(c.get(a, 1), undefined);
    assert.deepEqual([c.hits, c.misses], [1, 1]);
    assert.ok(c.peek(b, 0));
    assert.deepEqual([c.hits, c.misses], [1, 1], 'peek counts nothing');
    c.set(b, 0, Buffer.alloc(50)); // replacing an entry accounts for the new size
    assert.equal(c.bytes, 150);
    c.delete(a, 0);
    assert.equal(c.bytes, 50);
    c.set(b, 1, Buffer.alloc(300)); // larger than the cache: not kept
    assert.equal(c.has(b, 1), false);
  });
});

describe('read path caching', () => {
  it('serves repeated reads from the memory cache', async () => {
    let faulty!: FaultyBlockStore;
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const ino = await createFile(s);
      await s.data.write(ino, 0, bytes(1000, 1), now());
      await s.data.flush(ino);
      await s.data.read(ino, 0, 10, 1000);
      const gets = faulty.gets;
      const hits = s.data.stats().cacheHits;
      await s.data.read(ino, 500, 10, 1000);
      assert.equal(faulty.gets, gets);
      assert.equal(s.data.stats().cacheHits, hits + 1);
    }, (store) => (faulty = new FaultyBlockStore(store)));
  });

  it('sequential reads prefetch the next chunks into the cache', async () => {
    await withStack(CS, { readAheadChunks: 2 }, async (s) => {
      const ino = await createFile(s);
      const content = bytes(6 * CS, 2);
      await s.data.write(ino, 0, content, now());
      await s.data.flush(ino);
      s.cache.clear();
      await s.data.read(ino, 0, 16384, content.length);
      await s.data.read(ino, 16384, 16384, content.length);
      await s.data.whenIdle();
      for (const chunk of [1, 2]) for (const id of await blockIds(s, ino, chunk)) assert.equal(await fullyCached(s, id), true, `chunk ${chunk} prefetched`);
      for (const chunk of [3, 4, 5]) for (const id of await blockIds(s, ino, chunk)) assert.equal((await cachedSegments(s, id)).cached, 0, `chunk ${chunk} not yet`);
      // reading on keeps the window moving
      await s.data.read(ino, CS, CS, content.length);
      await s.data.whenIdle();
      for (const id of await blockIds(s, ino, 3)) assert.equal(await fullyCached(s, id), true, 'chunk 3 prefetched');
    });
  });

  it('no read-ahead when disabled or for random reads', async () => {
    await withStack(CS, { readAheadChunks: 0 }, async (s) => {
      const ino = await createFile(s);
      await s.data.write(ino, 0, bytes(4 * CS, 3), now());
      await s.data.flush(ino);
      s.cache.clear();
      await s.data.read(ino, 0, 100, 4 * CS);
      await s.data.read(ino, 100, 100, 4 * CS);
      await s.data.whenIdle();
      for (const id of await blockIds(s, ino, 1)) assert.equal((await cachedSegments(s, id)).cached, 0);
    });
  });
});

describe('DiskCache', () => {
  it('evicts least recently used blocks under its bound and rebuilds its index at open', async () => {
    const dir = await createTempDir('mosaicfs-dcache-');
    try {
      const dc = await DiskCache.open(dir, 3000);
      const ids = [1, 2, 3, 4, 5].map((i) => i.toString(16).padStart(64, '0'));
      for (const id of ids.slice(0, 3)) dc.put(id, Buffer.alloc(1000, 1));
      await dc.idle();
      assert.ok(await dc.get(ids[0])); // ids[0] becomes most recent
      for (const id of ids.slice(3)) dc.put(id, Buffer.alloc(1000, 2));
      await dc.idle();
      const st = dc.stats();
      assert.ok(st.bytes <= 3000);
      assert.equal(st.blocks, 3);
      assert.deepEqual(ids.map((id) => dc.has(id)), [true, false, false, true, true]);
      await dc.close();
      const reopened = await DiskCache.open(dir, 3000);
      assert.equal(reopened.stats().blocks, 3);
      assert.equal(reopened.stats().bytes, 3000);
      assert.ok((await reopened.get(ids[4]))?.equals(Buffer.alloc(1000, 2)));
      await reopened.close();
      const smaller = await DiskCache.open(dir, 1500);
      assert.equal(smaller.stats().blocks, 1, 'shrinking the bound evicts at open');
      await smaller.close();
    } finally {
      await removeTempDir(dir);
    }
  });

  it('holds sealed blocks only, serves reads without the store, and refetches a tampered copy', async () => {
    const cacheDir = await createTempDir('mosaicfs-dcache-');
    let faulty!: FaultyBlockStore;
    try {
      const diskCache = await DiskCache.open(cacheDir, 10 * 1024 * 1024);
      await withStack(CS, { diskCache, readAheadChunks: 0 }, async (s) => {
        const ino = await createFile(s);
        const content = Buffer.alloc(5000, 'plaintext-marker ');
        await s.data.write(ino, 0, content, now());
        await s.data.flush(ino);
        const [id] = await blockIds(s, ino, 0);
        s.cache.clear();
        assert.ok((await readAll(s, ino)).equals(content));
        await s.data.whenIdle();
        assert.ok(diskCache.has(id));
        const file = path.join(cacheDir, id.slice(0, 2), id);
        const cached = await fsp.readFile(file);
        assert.equal(cached.includes(Buffer.from('plaintext-marker')), false, 'no plaintext on disk');

        s.cache.clear();
        const gets = faulty.gets;
        assert.ok((await readAll(s, ino)).equals(content));
        assert.equal(faulty.gets, gets, 'served from the disk cache');

        cached[cached.length - 1] ^= 1;
        await fsp.writeFile(file, cached);
        s.cache.clear();
        assert.ok((await readAll(s, ino)).equals(content), 'tampered cache copy is not used');
        assert.equal(faulty.gets, gets + 1, 'refetched from the store');
      }, (store) => (faulty = new FaultyBlockStore(store)));
    } finally {
      await removeTempDir(cacheDir);
    }
  });

  it('a full disk (ENOSPC) switches the cache off without failing reads', async (t) => {
    const mnt = await createTempDir('mosaicfs-dcache-tmpfs-');
    let mounted = false;
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
        mounted = true;
      } catch {
        t.diagnostic('tmpfs mount not permitted: testing an unwritable cache folder instead of a full one');
      }
      const cacheDir = mounted ? mnt : path.join(mnt, 'file-not-dir', 'cache');
      if (!mounted) await fsp.writeFile(path.join(mnt, 'file-not-dir'), '');
      const diskCache = await DiskCache.open(cacheDir, 100 * 1024 * 1024);
      await withStack(CS, { diskCache, readAheadChunks: 0 }, async (s) => {
        const ino = await createFile(s);
        const content = bytes(10 * CS, 6); // 640 KiB sealed: cannot fit in 256 KiB
        await s.data.write(ino, 0, content, now());
        await s.data.flush(ino);
        s.cache.clear();
        for (let off = 0; off < content.length; off += CS) {
          assert.ok((await s.data.read(ino, off, CS, content.length)).equals(content.subarray(off, off + CS)));
          await diskCache.idle();
        }
        assert.equal(diskCache.disabled, true);
        s.cache.clear();
        assert.ok((await readAll(s, ino)).equals(content), 'reads keep working with the cache off');
      });
      if (mounted) {
        const left = await fsp.readdir(mnt, { recursive: true });
        assert.equal(left.filter((n) => String(n).endsWith('.tmp')).length, 0, 'no partial files left');
      }
    } finally {
      if (mounted) execFileSync('umount', [mnt]);
      await removeTempDir(mnt);
    }
  });

  it('checkCacheDir refuses unusable folders', async () => {
    const dir = await createTempDir('mosaicfs-dcache-');
    try {
      await checkCacheDir(path.join(dir, 'a', 'b'), 1);
      await fsp.writeFile(path.join(dir, 'file'), '');
      await assert.rejects(checkCacheDir(path.join(dir, 'file', 'sub'), 1), /cannot be created or written/);
      await assert.rejects(checkCacheDir(dir, Number.MAX_SAFE_INTEGER), /bytes free, less than/);
    } finally {
      await removeTempDir(dir);
    }
  });
});
