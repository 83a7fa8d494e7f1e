import {
  createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt as scryptCb,
  type ScryptOptions,
} from 'node:crypto';
import { createReadStream } from 'node:fs';
import { WrongPassphraseError } from '../errors.js';

/**
 * Volume keys. A volume has one random 256-bit volume key; the block codec's keys are derived
 * from it with HKDF. The volume key is stored only wrapped (AES-256-GCM, AAD = volume id) under a
 * key-encryption key (KEK) derived from a passphrase (scrypt) or a key file (HKDF).
 */

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const SALT_BYTES = 16;

const INFO_BLOCK_ID = 'mosaicfs/v1/block-id';
const INFO_BLOCK_ENC = 'mosaicfs/v1/block-enc';
export const INFO_KEYFILE_KEK = 'mosaicfs/v1/kek-keyfile';

export const DEFAULT_SCRYPT_N = 1 << 15;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
/** Bounds accepted from a config file (a hostile N would exhaust memory or time). */
const MIN_SCRYPT_LOG2N = 1;
const MAX_SCRYPT_LOG2N = 22;

export interface BlockKeys {
  idKey: Buffer;
  encKey: Buffer;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** What stands in mosaicfs.json under "key"; all binary fields are base64. */
export type KeyEnvelope =
  | { kdf: 'scrypt'; salt: string; params: ScryptParams; nonce: string; wrapped: string; tag: string }
  | { kdf: 'keyfile'; salt: string; params: Record<string, never>; nonce: string; wrapped: string; tag: string };

/** Source of the KEK: a passphrase, or the path of a key file (any file of at least 32 bytes). */
export type KekSecret = { passphrase: string } | { keyFile: string };

export function generateVolumeKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function deriveBlockKeys(volumeKey: Buffer): BlockKeys {
  return {
    idKey: hkdf(volumeKey, Buffer.alloc(0), INFO_BLOCK_ID),
    encKey: hkdf(volumeKey, Buffer.alloc(0), INFO_BLOCK_ENC),
  };
}

export async function wrapVolumeKey(
  volumeKey: Buffer,
  secret: KekSecret,
  volumeId: string,
  opts: { scryptN?: number } = {},
): Promise<KeyEnvelope> {
  if (volumeKey.length !== KEY_BYTES) throw new RangeError(`volume key must be ${KEY_BYTES} bytes`);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  let kek: Buffer;
  let head: Pick<KeyEnvelope, 'kdf' | 'params'>;
  if ('passphrase' in secret) {
    const params: ScryptParams = { N: opts.scryptN ?? DEFAULT_SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P };
    checkScryptParams(params);
    kek = await scryptKek(secret.passphrase, salt, params);
    head = { kdf: 'scrypt', params };
  } else {
    kek = await deriveKeyFileKek(secret.keyFile, salt);
    head = { kdf: 'keyfile', params: {} };
  }
  const sealed = wrapKeyWithKek(volumeKey, kek, volumeId, nonce);
  kek.fill(0);
  return {
    ...head,
    salt: salt.toString('base64'),
    ...sealed,
  } as KeyEnvelope;
}

/** Unwraps the volume key; WrongPassphraseError if the secret (or the volume id) does not match. */
export async function unwrapVolumeKey(envelope: KeyEnvelope, secret: KekSecret, volumeId: string): Promise<Buffer> {
  const salt = Buffer.from(envelope.salt, 'base64');
  let kek: Buffer;
  if (envelope.kdf === 'scrypt') {
    if (!('passphrase' in secret)) throw new WrongPassphraseError();
    checkScryptParams(envelope.params);
    kek = await scryptKek(secret.passphrase, salt, envelope.params);
  } else {
    if (!('keyFile' in secret)) throw new WrongPassphraseError();
    kek = await deriveKeyFileKek(secret.keyFile, salt);
  }
  try {
    return unwrapKeyWithKek(envelope, kek, volumeId);
  } finally {
    kek.fill(0);
  }
}

/** A 32-byte key sealed with AES-256-GCM under a KEK, the volume id as AAD; all fields base64. */
export interface WrappedKey {
  nonce: string;
  wrapped: string;
  tag: string;
}

export function wrapKeyWithKek(key: Buffer, kek: Buffer, volumeId: string, nonce: Buffer = randomBytes(NONCE_BYTES)): WrappedKey {
  if (key.length !== KEY_BYTES || kek.length !== KEY_BYTES) throw new RangeError(`keys must be ${KEY_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(Buffer.from(volumeId, 'utf8'));
  const wrapped = Buffer.concat([cipher.update(key), cipher.final()]);
  return { nonce: nonce.toString('base64'), wrapped: wrapped.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** WrongPassphraseError when the KEK (or the volume id) does not match. */
export function unwrapKeyWithKek(sealed: WrappedKey, kek: Buffer, volumeId: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(sealed.nonce, 'base64'));
    decipher.setAAD(Buffer.from(volumeId, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const key = Buffer.concat([decipher.update(Buffer.from(sealed.wrapped, 'base64')), decipher.final()]);
    if (key.length !== KEY_BYTES) throw new WrongPassphraseError();
    return key;
  } catch {
    throw new WrongPassphraseError();
  }
}

export function checkScryptParams(params: ScryptParams): void {
  const { N, r, p } = params ?? ({} as ScryptParams);
  const log2 = Math.log2(N);
  if (!Number.isInteger(log2) || log2 < MIN_SCRYPT_LOG2N || log2 > MAX_SCRYPT_LOG2N) {
    throw new RangeError(`scrypt N must be a power of two between 2^${MIN_SCRYPT_LOG2N} and 2^${MAX_SCRYPT_LOG2N}, got ${N}`);
  }
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    throw new RangeError(`scrypt r/p out of range: r=${r} p=${p}`);
  }
}

export function scryptKek(passphrase: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  // NFC so that the same passphrase typed on systems that compose differently unlocks the volume.
  const pass = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 32 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(pass, salt, KEY_BYTES, options, (err, key) => {
      pass.fill(0);
      if (err) reject(err);
      else resolve(key);
    });
  });
}

export const MIN_KEY_FILE_BYTES = 32;

/**
 * HKDF-SHA-256 (RFC 5869) with the key file's bytes as input keying material. Extract is streamed
 * (HMAC over the file) so a key file of any size works; Expand needs one block for 32 bytes.
 */
export async function deriveKeyFileKek(file: string, salt: Buffer): Promise<Buffer> {
  const extract = createHmac('sha256', salt);
  let bytes = 0;
  for await (const piece of createReadStream(file)) {
    extract.update(piece as Buffer);
    bytes += (piece as Buffer).length;
  }
  if (bytes < MIN_KEY_FILE_BYTES) {
    throw new RangeError(`key file ${file} is too short (${bytes} bytes; at least ${MIN_KEY_FILE_BYTES} needed)`);
  }
  const prk = extract.digest();
  const okm = createHmac('sha256', prk).update(INFO_KEYFILE_KEK, 'utf8').update(Buffer.of(1)).digest();
  prk.fill(0);
  return okm;
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
}
