import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AesGcmBlockCodec } from '../../src/crypto/AesGcmBlockCodec.js';
import { deriveBlockKeys, generateVolumeKey } from '../../src/crypto/keys.js';
import { IntegrityError } from '../../src/errors.js';

const codec = new AesGcmBlockCodec(deriveBlockKeys(generateVolumeKey()));
const S = 64 * 1024;
const HEADER = 14;

function assertIntegrityError(fn: () => unknown, id: string, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IntegrityError, `${what}: expected IntegrityError, got ${String(err)}`);
    assert.equal(err.blockId, id);
    assert.equal(err.code, 'EIO');
    return true;
  }, what);
}

describe('AesGcmBlockCodec', () => {
  it('round-trips plaintexts of many sizes', () => {
    for (const size of [0, 1, 15, 16, 17, 4096, S - 1, S, S + 1, 1024 * 1024 + 3]) {
      const plain = randomBytes(size);
      const { id, data } = codec.seal(plain);
      assert.match(id, /^[0-9a-f]{64}$/);
      const segments = Math.max(1, Math.ceil(size / S));
      assert.equal(codec.segmentCount(size), segments);
      assert.equal(data.length, HEADER + size + 16 * segments, `sealed size of ${size}`);
      assert.equal(codec.sealedSize(size), data.length);
      assert.equal(data[0], 2, 'format version byte');
      assert.equal(data[1], 16, 'log2 of the segment size');
      assert.equal(data.readUInt32BE(2), size, 'plaintext length');
      assert.ok(codec.open(id, data).equals(plain), `size ${size}`);
    }
  });

  it('the id is the HMAC-SHA-256 of the plaintext under the id key', () => {
    const keys = deriveBlockKeys(generateVolumeKey());
    const c = new AesGcmBlockCodec(keys);
    const plain = randomBytes(100);
    assert.equal(c.idOf(plain), createHmac('sha256', keys.idKey).update(plain).digest('hex'));
    assert.equal(c.seal(plain).id, c.idOf(plain));
  });

  it('dedups: the same plaintext gives the same id and the same sealed bytes; other plaintexts get other nonces', () => {
    const plain = randomBytes(5000);
    const a = codec.seal(plain);
    const b = codec.seal(Buffer.from(plain));
    assert.equal(a.id, b.id);
    assert.ok(a.data.equals(b.data), 'the nonce prefix derives from the id (deterministic, SIV-like)');
    assert.ok(codec.open(b.id, b.data).equals(plain));
    const c = codec.seal(randomBytes(5000));
    assert.notEqual(c.id, a.id);
    assert.ok(!c.data.subarray(6, HEADER).equals(a.data.subarray(6, HEADER)), 'distinct ids, distinct nonce prefixes');
    const other = new AesGcmBlockCodec(deriveBlockKeys(generateVolumeKey())).seal(plain);
    assert.ok(!other.data.subarray(6, HEADER).equals(a.data.subarray(6, HEADER)), 'the prefix depends on the key');
  });

  it('sealWithId gives a block that open accepts', () => {
    const plain = randomBytes(300);
    const id = codec.idOf(plain);
    assert.ok(codec.open(id, codec.sealWithId(id, plain)).equals(plain));
  });

  it('does not leak the plaintext into the sealed bytes', () => {
    const plain = Buffer.alloc(4096, 'mosaicfs-secret-text ');
    const { data } = codec.seal(plain);
    assert.equal(data.indexOf('mosaicfs-secret'), -1);
  });

  it('detects every single-byte flip of a sealed block', () => {
    const plain = randomBytes(64);
    const { id, data } = codec.seal(plain);
    for (let i = 0; i < data.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(data);
        bad[i] ^= mask;
        assertIntegrityError(() => codec.open(id, bad), id, `flip byte ${i} with ${mask}`);
      }
    }
  });

  it('detects every truncation and an extension', () => {
    const plain = randomBytes(64);
    const { id, data } = codec.seal(plain);
    for (let len = 0; len < data.length; len++) {
      assertIntegrityError(() => codec.open(id, data.subarray(0, len)), id, `truncated to ${len}`);
    }
    assertIntegrityError(() => codec.open(id, Buffer.concat([data, Buffer.of(0)])), id, 'extended by one byte');
  });

  it('detects a valid block served under a different id', () => {
    const a = codec.seal(randomBytes(1000));
    const b = codec.seal(randomBytes(1000));
    assertIntegrityError(() => codec.open(a.id, b.data), a.id, 'b served as a');
  });

  it('detects a block authentically sealed under an id that is not its content hash', () => {
    const plain = randomBytes(200);
    const liarId = codec.idOf(randomBytes(200));
    const data = codec.sealWithId(liarId, plain);
    assert.throws(() => codec.open(liarId, data), (err: unknown) =>
      err instanceof IntegrityError && /does not match its id/.test(err.message));
  });

  it('rejects blocks sealed under another volume key, and malformed ids', () => {
    const other = new AesGcmBlockCodec(deriveBlockKeys(generateVolumeKey()));
    const { id, data } = other.seal(randomBytes(100));
    assertIntegrityError(() => codec.open(id, data), id, 'foreign key');
    const mine = codec.seal(randomBytes(100));
    assertIntegrityError(() => codec.open(mine.id.toUpperCase(), mine.data), mine.id.toUpperCase(), 'uppercase id');
    assert.throws(() => codec.open('abc', mine.data), IntegrityError);
  });

  it('opens a sealed block given as a Uint8Array view', () => {
    const plain = randomBytes(333);
    const { id, data } = codec.seal(plain);
    const backing = Buffer.concat([randomBytes(7), data, randomBytes(5)]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, data.length);
    assert.ok(codec.open(id, view).equals(plain));
  });

  it('requires 32-byte keys', () => {
    assert.throws(() => new AesGcmBlockCodec({ idKey: Buffer.alloc(16), encKey: Buffer.alloc(32) }), RangeError);
  });
});

describe('AesGcmBlockCodec segments (partial reads)', () => {
  const size = 4 * S + 100; // 5 segments, the last one 100 bytes
  const plain = randomBytes(size);
  const { id, data } = codec.seal(plain);
  const part = (k: number): Buffer => plain.subarray(k * S, Math.min(size, (k + 1) * S));
  const rangeOf = (first: number, last: number, sealed = data): Buffer => {
    const r = codec.segmentRange(size, first, last);
    return sealed.subarray(r.offset, r.offset + r.length);
  };

  it('segment k lies at 14 + k * (S + 16), and [0, count-1] is the whole sealed block', () => {
    assert.equal(codec.segmentSize, S);
    assert.deepEqual(codec.segmentRange(size, 0, 0), { offset: 0, length: HEADER + S + 16 });
    assert.deepEqual(codec.segmentRange(size, 2, 3), { offset: HEADER + 2 * (S + 16), length: 2 * (S + 16) });
    assert.deepEqual(codec.segmentRange(size, 4, 4), { offset: HEADER + 4 * (S + 16), length: 100 + 16 });
    assert.deepEqual(codec.segmentRange(size, 0, 4), { offset: 0, length: data.length });
    assert.deepEqual(codec.segmentRange(0, 0, 0), { offset: 0, length: HEADER + 16 });
    for (const [a, b] of [[-1, 0], [0, 5], [3, 2], [0.5, 1]]) assert.throws(() => codec.segmentRange(size, a, b), RangeError);
  });

  it('opens every run of segments from its range alone', () => {
    for (let a = 0; a < 5; a++) {
      for (let b = a; b < 5; b++) {
        const got = codec.openSegments(id, size, a, rangeOf(a, b));
        assert.equal(got.length, b - a + 1);
        got.forEach((g, i) => assert.ok(g.equals(part(a + i)), `[${a}, ${b}] segment ${a + i}`));
      }
    }
    const empty = codec.seal(Buffer.alloc(0));
    assert.deepEqual(codec.openSegments(empty.id, 0, 0, empty.data).map((b) => b.length), [0]);
  });

  it('detects a flipped byte in the header, in any segment body and in any tag', () => {
    const positions = [...Array(HEADER).keys()];
    for (let k = 0; k < 5; k++) {
      const { offset, length } = codec.segmentRange(size, k, k);
      const start = k === 0 ? HEADER : offset;
      positions.push(start, start + 1000 % (length - 16), offset + length - 17, offset + length - 16, offset + length - 1);
    }
    for (const pos of positions) {
      const bad = Buffer.from(data);
      bad[pos] ^= 0x01;
      assertIntegrityError(() => codec.open(id, bad), id, `open, flip at ${pos}`);
      const k = pos < HEADER ? 0 : Math.floor((pos - HEADER) / (S + 16));
      assertIntegrityError(() => codec.openSegments(id, size, k, rangeOf(k, k, bad)), id, `openSegments, flip at ${pos}`);
    }
  });

  it('detects segments swapped, moved, or taken from another block', () => {
    const seg = (sealed: Buffer, k: number): Buffer => rangeOf(k, k, sealed);
    const swapped = Buffer.concat([seg(data, 2), seg(data, 1)]);
    assertIntegrityError(() => codec.openSegments(id, size, 1, swapped), id, 'segments 1 and 2 swapped');
    assertIntegrityError(() => codec.openSegments(id, size, 2, seg(data, 1)), id, 'segment 1 served as 2');
    const other = codec.seal(randomBytes(size));
    assertIntegrityError(() => codec.openSegments(id, size, 3, seg(other.data, 3)), id, 'same position of another block');
    assertIntegrityError(() => codec.openSegments(id, size, 0, other.data.subarray(0, HEADER + S + 16)), id, 'another block\'s first segment');
    const foreign = new AesGcmBlockCodec(deriveBlockKeys(generateVolumeKey()));
    assertIntegrityError(() => foreign.openSegments(id, size, 1, seg(data, 1)), id, 'foreign key');
  });

  it('detects truncation and extension, and a block length that is not the sealed one', () => {
    // Cut to its first 4 (full) segments and presented as a block of 4 * S bytes.
    const cut = data.subarray(0, HEADER + 4 * (S + 16));
    const cutHeader = Buffer.from(cut);
    cutHeader.writeUInt32BE(4 * S, 2);
    assertIntegrityError(() => codec.open(id, cutHeader), id, 'truncated to whole segments, header rewritten');
    assertIntegrityError(() => codec.openSegments(id, 4 * S, 3, rangeOf(3, 3)), id, 'length claimed shorter');
    assertIntegrityError(() => codec.openSegments(id, size + 1, 4, data.subarray(HEADER + 4 * (S + 16))), id, 'length claimed longer');
    assertIntegrityError(() => codec.openSegments(id, size, 2, rangeOf(2, 2).subarray(0, S)), id, 'range cut inside a segment');
    assertIntegrityError(() => codec.openSegments(id, size, 3, Buffer.concat([rangeOf(3, 4), Buffer.of(0)])), id, 'range past the last segment');
    assertIntegrityError(() => codec.openSegments(id, size, 2, data.subarray(HEADER + 2 * (S + 16) + 1, HEADER + 3 * (S + 16) + 1)), id, 'misaligned range');
    assertIntegrityError(() => codec.openSegments(id, size, 2, Buffer.alloc(0)), id, 'empty range');
    assertIntegrityError(() => codec.openSegments(id, size, 5, Buffer.alloc(0)), id, 'segment past the end');
  });

  it('openSegments does not recheck the content hash (the AEAD binds the id); open does', () => {
    const liarId = codec.idOf(randomBytes(10));
    const sealed = codec.sealWithId(liarId, plain);
    assert.ok(codec.openSegments(liarId, size, 4, rangeOf(4, 4, sealed))[0].equals(part(4)));
    assert.throws(() => codec.open(liarId, sealed), /does not match its id/);
  });
});
