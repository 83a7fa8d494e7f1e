import { createHmac, hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import type { KdfParams } from '../remote/protocol.js';
import { checkScryptParams, KEY_BYTES, scryptKek } from '../crypto/keys.js';

/**
 * One password, zero knowledge (as Bitwarden and MEGA do it). The client stretches the user's
 * password with scrypt (salt and cost from the server's prelogin answer) into a master key and
 * splits it with HKDF into:
 *   - authKey: sent to the server at login; the server stores only scrypt(authKey, serverSalt);
 *   - kek:     never leaves the client; it wraps the user's volume key.
 * Knowing authKey (or its hash) does not help to find kek: they are independent HKDF outputs.
 */
export const DEFAULT_LOGIN_KDF: KdfParams = { name: 'scrypt', N: 1 << 15, r: 8, p: 1 };
const INFO_AUTH = 'mosaicfs/v1/login-auth';
const INFO_KEK = 'mosaicfs/v1/login-kek';
const SALT_BYTES = 16;

export interface LoginKeys {
  authKey: Buffer;
  kek: Buffer;
}

export function newLoginSalt(): Buffer {
  return randomBytes(SALT_BYTES);
}

export async function deriveLoginKeys(password: string, salt: Buffer, params: KdfParams): Promise<LoginKeys> {
  if (params.name !== 'scrypt') throw new RangeError(`unsupported login KDF ${JSON.stringify(params.name)}`);
  checkScryptParams(params);
  const master = await scryptKek(password, salt, params);
  try {
    return {
      authKey: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), INFO_AUTH, KEY_BYTES)),
      kek: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), INFO_KEK, KEY_BYTES)),
    };
  } finally {
    master.fill(0);
  }
}

/** Server side: what is stored to check an authKey later (the authKey itself is never stored). */
export interface AuthVerifier {
  /** base64 */
  salt: string;
  N: number;
  r: number;
  p: number;
  /** base64 of scrypt(authKey, salt) */
  hash: string;
}

/** Server-side cost: the authKey is already stretched and has 256 bits, so a modest N suffices. */
const VERIFIER_N = 1 << 14;

export async function makeAuthVerifier(authKey: Buffer, N = VERIFIER_N): Promise<AuthVerifier> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptBytes(authKey, salt, N);
  return { salt: salt.toString('base64'), N, r: 8, p: 1, hash: hash.toString('base64') };
}

export async function checkAuthVerifier(authKey: Buffer, v: AuthVerifier): Promise<boolean> {
  if (authKey.length !== KEY_BYTES) return false;
  const hash = await scryptBytes(authKey, Buffer.from(v.salt, 'base64'), v.N, v.r, v.p);
  const want = Buffer.from(v.hash, 'base64');
  return hash.length === want.length && timingSafeEqual(hash, want);
}

/** A salt for a user that does not exist: stable per name, so prelogin does not reveal who exists. */
export function fakeLoginSalt(serverSecret: Buffer, user: string): Buffer {
  return createHmac('sha256', serverSecret).update(`prelogin:${user}`).digest().subarray(0, SALT_BYTES);
}

function scryptBytes(input: Buffer, salt: Buffer, N: number, r = 8, p = 1): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(input, salt, KEY_BYTES, { N, r, p, maxmem: 128 * N * r * p + 32 * 1024 * 1024 }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}
