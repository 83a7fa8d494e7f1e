import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeWire, encodeWire } from '../../src/remote/wireCodec.js';

const viaJson = (v: unknown): unknown => decodeWire(JSON.parse(JSON.stringify(encodeWire(v))));

describe('wireCodec', () => {
  it('round-trips Buffers and Maps at any depth, plain values unchanged', () => {
    const value = {
      a: 1, s: 'x', n: null, arr: [1, 'two', { b: Buffer.from('hi') }],
      m: new Map<number, unknown>([[3, [{ chunkOff: 0, len: 4, blockId: 'ab', blockOff: 0 }]], [7, Buffer.from([0, 255])]]),
      nested: { deep: { buf: new Uint8Array([1, 2, 3]) } },
    };
    const back = viaJson(value) as typeof value;
    assert.deepEqual(back.arr, [1, 'two', { b: Buffer.from('hi') }]);
    assert.deepEqual(back.m, new Map<number, unknown>([[3, [{ chunkOff: 0, len: 4, blockId: 'ab', blockOff: 0 }]], [7, Buffer.from([0, 255])]]));
    assert.deepEqual(back.nested.deep.buf, Buffer.from([1, 2, 3]));
    assert.equal(back.a, 1);
    assert.equal(back.n, null);
  });

  it('drops undefined fields, turns undefined into null, and never modifies its input', () => {
    const input = { keep: 1, drop: undefined, list: [undefined, 2], inner: { b: Buffer.from('x') } };
    const snapshot = JSON.stringify(input);
    const enc = encodeWire(input) as Record<string, unknown>;
    assert.deepEqual(enc, { keep: 1, list: [null, 2], inner: { b: { $b64: 'eA==' } } });
    assert.ok(Buffer.isBuffer(input.inner.b), 'input untouched');
    assert.equal(JSON.stringify(input), snapshot);
    assert.equal(encodeWire(undefined), null);

    const wire = { x: [{ $b64: 'eA==' }], y: { z: 1 } };
    const dec = decodeWire(wire) as { x: Buffer[]; y: unknown };
    assert.deepEqual(dec.x[0], Buffer.from('x'));
    assert.deepEqual(wire.x[0], { $b64: 'eA==' }, 'input untouched');
    assert.equal(dec.y, wire.y, 'unchanged subtrees are shared, not copied');
  });

  it('returns plain data as is (no copy) and keeps a "__proto__" key a plain key', () => {
    const attrs = { entries: [{ name: 'a', attr: { ino: 2, mode: 0o100644 } }], next: null };
    assert.equal(encodeWire(attrs), attrs);
    assert.equal(decodeWire(attrs), attrs);
    const parsed = JSON.parse('{"__proto__": {"polluted": 1}, "b": {"$b64": "eA=="}}') as Record<string, unknown>;
    const dec = decodeWire(parsed) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(dec), Object.prototype);
    assert.deepEqual(Object.keys(dec), ['__proto__', 'b']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('sends class instances as their own fields, not through toJSON', () => {
    class Point {
      constructor(public x: number, public y?: number) {}
      toJSON() {
        return 'nope';
      }
    }
    assert.deepEqual(encodeWire({ p: new Point(1) }), { p: { x: 1 } });
  });

  it('rejects a malformed $map', () => {
    assert.throws(() => decodeWire({ $map: [[1]] }), /malformed \$map/);
  });
});
