import { hkdfSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  deriveBlockKeys, deriveKeyFileKek, generateVolumeKey, INFO_KEYFILE_KEK, KEY_BYTES, unwrapVolumeKey,
  wrapVolumeKey, type KeyEnvelope,
} from '../../src/crypto/keys.js';
import { WrongPassphraseError } from '../../src/errors.js';

const FAST_N = 1 << 10;
const VOLUME_ID = '6f1c2d3e-0000-4000-8000-000000000001';

describe('volume keys', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-keys-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('generates distinct 256-bit volume keys', () => {
    const a = generateVolumeKey();
    assert.equal(a.length, KEY_BYTES);
    assert.ok(!a.equals(generateVolumeKey()));
  });

  it('derives distinct, deterministic sub-keys', () => {
    const key = generateVolumeKey();
    const k1 = deriveBlockKeys(key);
    const k2 = deriveBlockKeys(Buffer.from(key));
    assert.ok(k1.idKey.equals(k2.idKey) && k1.encKey.equals(k2.encKey));
    assert.ok(!k1.idKey.equals(k1.encKey));
    assert.ok(!k1.idKey.equals(key) && !k1.encKey.equals(key));
    assert.equal(k1.idKey.length, 32);
    assert.ok(!deriveBlockKeys(generateVolumeKey()).idKey.equals(k1.idKey));
  });

  it('wraps and unwraps with a passphrase; the envelope holds no key in clear', async () => {
    const key = generateVolumeKey();
    const env = await wrapVolumeKey(key, { passphrase: 'correct horse' }, VOLUME_ID, { scryptN: FAST_N });
    assert.equal(env.kdf, 'scrypt');
    assert.deepEqual(env.params, { N: FAST_N, r: 8, p: 1 });
    assert.equal(JSON.stringify(env).includes(key.toString('base64')), false);
    assert.equal(JSON.stringify(env).includes(key.toString('hex')), false);
    assert.ok((await unwrapVolumeKey(env, { passphrase: 'correct horse' }, VOLUME_ID)).equals(key));
  });

  it('uses the default scrypt cost N=2^15 unless told otherwise', async () => {
    const env = await wrapVolumeKey(generateVolumeKey(), { passphrase: 'p' }, VOLUME_ID);
    assert.deepEqual(env.params, { N: 1 << 15, r: 8, p: 1 });
  });

  it('a wrong passphrase or a different volume id throws WrongPassphraseError', async () => {
    const env = await wrapVolumeKey(generateVolumeKey(), { passphrase: 'right' }, VOLUME_ID, { scryptN: FAST_N });
    await assert.rejects(unwrapVolumeKey(env, { passphrase: 'wrong' }, VOLUME_ID), WrongPassphraseError);
    await assert.rejects(unwrapVolumeKey(env, { passphrase: 'right' }, VOLUME_ID.replace('1', '2')), WrongPassphraseError);
  });

  it('a tampered envelope throws WrongPassphraseError, never returns garbage', async () => {
    const env = await wrapVolumeKey(generateVolumeKey(), { passphrase: 'pw' }, VOLUME_ID, { scryptN: FAST_N });
    for (const field of ['salt', 'nonce', 'wrapped', 'tag'] as const) {
      const bytes = Buffer.from(env[field], 'base64');
      bytes[0] ^= 1;
      const bad = { ...env, [field]: bytes.toString('base64') } as KeyEnvelope;
      await assert.rejects(unwrapVolumeKey(bad, { passphrase: 'pw' }, VOLUME_ID), WrongPassphraseError, field);
    }
  });

  it('normalises passphrases to NFC', async () => {
    const key = generateVolumeKey();
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    const env = await wrapVolumeKey(key, { passphrase: composed }, VOLUME_ID, { scryptN: FAST_N });
    assert.ok((await unwrapVolumeKey(env, { passphrase: decomposed }, VOLUME_ID)).equals(key));
  });

  it('refuses hostile scrypt parameters from a config', async () => {
    const env = await wrapVolumeKey(generateVolumeKey(), { passphrase: 'pw' }, VOLUME_ID, { scryptN: FAST_N });
    if (env.kdf !== 'scrypt') throw new Error('expected scrypt');
    for (const params of [{ N: 1 << 30, r: 8, p: 1 }, { N: 1000, r: 8, p: 1 }, { N: FAST_N, r: 0, p: 1 }]) {
      await assert.rejects(unwrapVolumeKey({ ...env, params }, { passphrase: 'pw' }, VOLUME_ID), RangeError);
    }
    await assert.rejects(wrapVolumeKey(generateVolumeKey(), { passphrase: 'pw' }, VOLUME_ID, { scryptN: 3 }), RangeError);
  });

  it('wraps and unwraps with a key file; another file or a passphrase fails', async () => {
    const keyFile = path.join(dir, 'key.bin');
    const otherFile = path.join(dir, 'other.bin');
    await fs.writeFile(keyFile, randomBytes(64));
    await fs.writeFile(otherFile, randomBytes(64));
    const key = generateVolumeKey();
    const env = await wrapVolumeKey(key, { keyFile }, VOLUME_ID);
    assert.equal(env.kdf, 'keyfile');
    assert.ok((await unwrapVolumeKey(env, { keyFile }, VOLUME_ID)).equals(key));
    await assert.rejects(unwrapVolumeKey(env, { keyFile: otherFile }, VOLUME_ID), WrongPassphraseError);
    await assert.rejects(unwrapVolumeKey(env, { passphrase: 'x' }, VOLUME_ID), WrongPassphraseError);
    const pwEnv = await wrapVolumeKey(key, { passphrase: 'x' }, VOLUME_ID, { scryptN: FAST_N });
    await assert.rejects(unwrapVolumeKey(pwEnv, { keyFile }, VOLUME_ID), WrongPassphraseError);
  });

  it('key-file KEK is HKDF-SHA-256 of the whole file, also for files larger than a read chunk', async () => {
    const salt = randomBytes(16);
    for (const size of [32, 200_000]) {
      const bytes = randomBytes(size);
      const file = path.join(dir, `k${size}`);
      await fs.writeFile(file, bytes);
      const expected = Buffer.from(hkdfSync('sha256', bytes, salt, INFO_KEYFILE_KEK, 32));
      assert.ok((await deriveKeyFileKek(file, salt)).equals(expected), `size ${size}`);
    }
  });

  it('refuses a key file shorter than 32 bytes', async () => {
    const short = path.join(dir, 'short.bin');
    await fs.writeFile(short, randomBytes(31));
    await assert.rejects(wrapVolumeKey(generateVolumeKey(), { keyFile: short }, VOLUME_ID), /too short/);
  });
});
