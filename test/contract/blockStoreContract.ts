import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockNotFoundError } from '../../src/errors.js';
import type { BlockInfo, BlockStore } from '../../src/block/BlockStore.js';

export type BlockStoreFactory = () => Promise<{ store: BlockStore; cleanup: () => Promise<void> }>;

/** A block with an id derived from its bytes (any 64-hex id is valid for a store; it never checks content). */
export function block(data: Uint8Array): { id: string; data: Buffer } {
  return { id: createHash('sha256').update(data).digest('hex'), data: Buffer.from(data) };
}

export function randomBlock(size: number): { id: string; data: Buffer } {
  return block(randomBytes(size));
}

async function collect(store: BlockStore): Promise<BlockInfo[]> {
  const out: BlockInfo[] = [];
  for await (const info of store.list()) out.push(info);
  return out;
}

const INVALID_IDS = [
  'A'.repeat(64), // uppercase
  'ab'.repeat(31), // short
  'a'.repeat(65), // long
  '../x',
  `${'a'.repeat(30)}/${'b'.repeat(33)}`,
  `../${'a'.repeat(61)}`,
  '',
  'g'.repeat(64),
];

/**
 * The compliance suite every BlockStore backend passes unchanged. `factory` returns a fresh, empty
 * store and a cleanup that closes it and removes whatever it used.
 */
export function blockStoreContract(name: string, factory: BlockStoreFactory): void {
  describe(`BlockStore contract: ${name}`, () => {
    let cleanup: (() => Promise<void>) | undefined;

    // One fresh store per test, so tests cannot see each other's blocks.
    const fresh = async (): Promise<BlockStore> => {
      await cleanup?.();
      cleanup = undefined;
      const made = await factory();
      cleanup = made.cleanup;
      return made.store;
    };
    after(async () => {
      await cleanup?.();
    });

    for (const size of [0, 1, 10 * 1024 * 1024]) {
      it(`round-trips a block of ${size} bytes`, async () => {
        const s = await fresh();
        const b = randomBlock(size);
        await s.put(b.id, b.data);
        const got = await s.get(b.id);
        assert.ok(Buffer.isBuffer(got));
        assert.equal(got.length, size);
        assert.ok(got.equals(b.data));
      });
    }

    it('accepts a Uint8Array that is a view into a larger buffer', async () => {
      const s = await fresh();
      const backing = randomBytes(1000);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 500);
      const b = block(view);
      await s.put(b.id, view);
      assert.ok((await s.get(b.id)).equals(backing.subarray(100, 600)));
    });

    it('put is idempotent: the same id twice leaves one readable copy', async () => {
      const s = await fresh();
      const b = randomBlock(4096);
      await s.put(b.id, b.data);
      await s.put(b.id, b.data);
      assert.ok((await s.get(b.id)).equals(b.data));
      const listed = await collect(s);
      assert.deepEqual(listed.map((i) => i.id), [b.id]);
    });

    it('has reports presence and absence', async () => {
      const s = await fresh();
      const b = randomBlock(10);
      assert.equal(await s.has(b.id), false);
      await s.put(b.id, b.data);
      assert.equal(await s.has(b.id), true);
      await s.delete(b.id);
      assert.equal(await s.has(b.id), false);
    });

    it('delete removes a block and is idempotent', async () => {
      const s = await fresh();
      const a = randomBlock(100);
      const b = randomBlock(100);
      await s.put(a.id, a.data);
      await s.put(b.id, b.data);
      await s.delete(a.id);
      await s.delete(a.id);
      await s.delete(randomBlock(1).id); // never stored
      await assert.rejects(s.get(a.id), BlockNotFoundError);
      assert.ok((await s.get(b.id)).equals(b.data), 'deleting one block leaves the others');
    });

    it('a deleted block can be put again', async () => {
      const s = await fresh();
      const b = randomBlock(100);
      await s.put(b.id, b.data);
      await s.delete(b.id);
      await s.put(b.id, b.data);
      assert.ok((await s.get(b.id)).equals(b.data));
    });

    it('get of an absent block throws BlockNotFoundError carrying the id', async () => {
      const s = await fresh();
      const id = randomBlock(5).id;
      await assert.rejects(s.get(id), (err: unknown) => {
        assert.ok(err instanceof BlockNotFoundError);
        assert.equal(err.blockId, id);
        assert.equal(err.code, 'EIO');
        return true;
      });
    });

    it('rejects malformed ids with TypeError on put, get, has and delete', async () => {
      const s = await fresh();
      for (const id of INVALID_IDS) {
        await assert.rejects(s.put(id, Buffer.from('x')), TypeError, `put ${JSON.stringify(id)}`);
        await assert.rejects(s.get(id), TypeError, `get ${JSON.stringify(id)}`);
        await assert.rejects(s.has(id), TypeError, `has ${JSON.stringify(id)}`);
        await assert.rejects(s.delete(id), TypeError, `delete ${JSON.stringify(id)}`);
      }
      assert.deepEqual(await collect(s), [], 'nothing was stored by the rejected puts');
    });

    it('list yields exactly the stored ids with their sizes', async () => {
      const s = await fresh();
      assert.deepEqual(await collect(s), []);
      const blocks = [0, 1, 17, 4096, 70_000].map(randomBlock);
      for (const b of blocks) await s.put(b.id, b.data);
      await s.delete(blocks[2].id);
      const expected = blocks.filter((_, i) => i !== 2).map((b) => ({ id: b.id, size: b.data.length }));
      const listed = (await collect(s)).map(({ id, size }) => ({ id, size }));
      const byId = (x: { id: string }, y: { id: string }): number => x.id.localeCompare(y.id);
      assert.deepEqual(listed.sort(byId), expected.sort(byId));
    });

    it('handles many concurrent puts and gets', async () => {
      const s = await fresh();
      const blocks = Array.from({ length: 200 }, (_, i) => randomBlock(1 + ((i * 7919) % 20_000)));
      await Promise.all(blocks.map((b) => s.put(b.id, b.data)));
      const got = await Promise.all(blocks.map((b) => s.get(b.id)));
      got.forEach((g, i) => assert.ok(g.equals(blocks[i].data), `block ${i}`));
      // Interleaved puts of new blocks and gets of stored ones.
      const more = Array.from({ length: 100 }, () => randomBlock(3000));
      await Promise.all([
        ...more.map((b) => s.put(b.id, b.data)),
        ...blocks.map(async (b) => assert.ok((await s.get(b.id)).equals(b.data))),
      ]);
      assert.equal((await collect(s)).length, blocks.length + more.length);
    });

    it('concurrent puts of the same id leave one intact copy', async () => {
      const s = await fresh();
      const b = randomBlock(256 * 1024);
      await Promise.all(Array.from({ length: 20 }, () => s.put(b.id, Buffer.from(b.data))));
      assert.ok((await s.get(b.id)).equals(b.data));
      const listed = await collect(s);
      assert.deepEqual(listed.map((i) => [i.id, i.size]), [[b.id, b.data.length]]);
    });

    it('sync resolves, with and without pending writes', async () => {
      const s = await fresh();
      await s.sync();
      const blocks = Array.from({ length: 10 }, () => randomBlock(1000));
      for (const b of blocks) await s.put(b.id, b.data);
      await s.delete(blocks[0].id);
      await s.sync();
      await s.sync();
      assert.ok((await s.get(blocks[1].id)).equals(blocks[1].data));
    });

    it('stores a copy: mutating the input after put does not change the block', async () => {
      const s = await fresh();
      const b = randomBlock(1024);
      const input = Buffer.from(b.data);
      await s.put(b.id, input);
      input.fill(0);
      assert.ok((await s.get(b.id)).equals(b.data));
    });

    it('returns a copy: mutating what get returned does not change the block', async () => {
      const s = await fresh();
      const b = randomBlock(1024);
      await s.put(b.id, b.data);
      const first = await s.get(b.id);
      first.fill(0);
      assert.ok((await s.get(b.id)).equals(b.data));
    });

    it('getRange returns exact ranges at the start, middle and end of a block', async () => {
      const s = await fresh();
      const b = randomBlock(200_000);
      await s.put(b.id, b.data);
      for (const [offset, length] of [[0, 1], [0, 65_536], [1, 99], [70_000, 65_552], [123_457, 3], [199_999, 1], [150_000, 50_000], [0, 200_000], [5, 0]]) {
        const got = await s.getRange(b.id, offset, length);
        assert.ok(Buffer.isBuffer(got));
        assert.equal(got.length, length, `range ${offset}+${length}`);
        assert.ok(got.equals(b.data.subarray(offset, offset + length)), `range ${offset}+${length}`);
      }
    });

    it('getRange clips a range running past the end: the tail, or empty at or past the end', async () => {
      const s = await fresh();
      const b = randomBlock(1000);
      const empty = randomBlock(0);
      await s.put(b.id, b.data);
      await s.put(empty.id, empty.data);
      assert.ok((await s.getRange(b.id, 900, 500)).equals(b.data.subarray(900)));
      assert.ok((await s.getRange(b.id, 0, 1_000_000)).equals(b.data));
      assert.equal((await s.getRange(b.id, 1000, 10)).length, 0);
      assert.equal((await s.getRange(b.id, 5000, 10)).length, 0);
      assert.equal((await s.getRange(empty.id, 0, 10)).length, 0);
    });

    it('getRange of an absent block throws BlockNotFoundError carrying the id', async () => {
      const s = await fresh();
      const id = randomBlock(5).id;
      await assert.rejects(s.getRange(id, 0, 10), (err: unknown) => {
        assert.ok(err instanceof BlockNotFoundError);
        assert.equal(err.blockId, id);
        return true;
      });
      const b = randomBlock(100);
      await s.put(b.id, b.data);
      await s.delete(b.id);
      await assert.rejects(s.getRange(b.id, 0, 10), BlockNotFoundError, 'deleted block');
    });

    it('getRange rejects malformed ids with TypeError and malformed ranges with RangeError', async () => {
      const s = await fresh();
      for (const id of INVALID_IDS) await assert.rejects(s.getRange(id, 0, 1), TypeError, `getRange ${JSON.stringify(id)}`);
      const b = randomBlock(100);
      await s.put(b.id, b.data);
      for (const [offset, length] of [[-1, 10], [0, -1], [1.5, 10], [0, 2.5], [Number.NaN, 1], [0, Number.POSITIVE_INFINITY]]) {
        await assert.rejects(s.getRange(b.id, offset, length), RangeError, `range ${offset}+${length}`);
      }
    });

    it('getRange returns a copy, and many concurrent ranges are each right', async () => {
      const s = await fresh();
      const b = randomBlock(300_000);
      await s.put(b.id, b.data);
      const first = await s.getRange(b.id, 10, 100);
      first.fill(0);
      assert.ok((await s.getRange(b.id, 10, 100)).equals(b.data.subarray(10, 110)));
      const ranges = Array.from({ length: 100 }, (_, i) => [(i * 7919) % 290_000, 1 + ((i * 104_729) % 20_000)]);
      const got = await Promise.all(ranges.map(([o, l]) => s.getRange(b.id, o, l)));
      got.forEach((g, i) => assert.ok(g.equals(b.data.subarray(ranges[i][0], ranges[i][0] + ranges[i][1])), `range ${i}`));
    });

    it('has a non-empty name', async () => {
      const s = await fresh();
      assert.equal(typeof s.name, 'string');
      assert.ok(s.name.length > 0);
    });
  });
}
