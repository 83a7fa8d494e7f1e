import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AesGcmBlockCodec } from '../../src/crypto/AesGcmBlockCodec.js';
import { deriveBlockKeys, generateVolumeKey } from '../../src/crypto/keys.js';
import { IntegrityError } from '../../src/errors.js';

const codec = new AesGcmBlockCodec(deriveBlockKeys(generateVolumeKey()));

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
    for (const size of [0, 1, 15, 16, 17, 4096, 1024 * 1024 + 3]) {
      const plain = randomBytes(size);
      const { id, data } = codec.seal(plain);
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.equal(data.length, size + codec.overhead);
      assert.equal(data[0], 1, 'format version byte');
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

  it('dedups: the same plaintext gives the same id but different sealed bytes', () => {
    const plain = randomBytes(5000);
    const a = codec.seal(plain);
    const b = codec.seal(Buffer.from(plain));
    assert.equal(a.id, b.id);
    assert.ok(!a.data.equals(b.data), 'fresh nonce per seal');
    assert.ok(codec.open(b.id, b.data).equals(plain));
    assert.notEqual(codec.seal(randomBytes(5000)).id, a.id);
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
