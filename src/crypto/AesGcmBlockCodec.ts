import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import type { BlockCodec, SealedBlock } from './BlockCodec.js';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;
const ID_HEX_CHARS = 64;

/**
 * The v1 block format: [version 1][nonce 12][AES-256-GCM ciphertext][tag 16], AAD = the block id
 * in ASCII, id = hex HMAC-SHA-256(idKey, plaintext). See BlockCodec for the guarantees.
 */
export class AesGcmBlockCodec implements BlockCodec {
  readonly overhead = HEADER_BYTES + TAG_BYTES;
  private readonly idKey: Buffer;
  private readonly encKey: Buffer;

  constructor(keys: { idKey: Buffer; encKey: Buffer }) {
    if (keys.idKey.length !== 32 || keys.encKey.length !== 32) {
      throw new RangeError('AesGcmBlockCodec needs a 32-byte idKey and a 32-byte encKey');
    }
    this.idKey = Buffer.from(keys.idKey);
    this.encKey = Buffer.from(keys.encKey);
  }

  idOf(plaintext: Uint8Array): string {
    return createHmac('sha256', this.idKey).update(plaintext).digest('hex');
  }

  seal(plaintext: Uint8Array): SealedBlock {
    const id = this.idOf(plaintext);
    return { id, data: this.sealWithId(id, plaintext) };
  }

  sealWithId(id: string, plaintext: Uint8Array): Buffer {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header[0] = VERSION;
    randomBytes(NONCE_BYTES).copy(header, 1);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, header.subarray(1));
    cipher.setAAD(Buffer.from(id, 'latin1'));
    const body = cipher.update(plaintext);
    const rest = cipher.final();
    const tag = cipher.getAuthTag();
    return Buffer.concat([header, body, rest, tag], HEADER_BYTES + body.length + rest.length + TAG_BYTES);
  }

  open(id: string, sealed: Uint8Array): Buffer {
    if (typeof id !== 'string' || id.length !== ID_HEX_CHARS) throw new IntegrityError(String(id), 'malformed block id');
    const buf = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < HEADER_BYTES + TAG_BYTES) throw new IntegrityError(id, `too short (${buf.length} bytes)`);
    if (buf[0] !== VERSION) throw new IntegrityError(id, `unknown block format version ${buf[0]}`);

    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, buf.subarray(1, HEADER_BYTES));
      decipher.setAAD(Buffer.from(id, 'latin1'));
      decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
      const body = decipher.update(buf.subarray(HEADER_BYTES, buf.length - TAG_BYTES));
      const rest = decipher.final();
      plaintext = rest.length === 0 ? body : Buffer.concat([body, rest]);
    } catch {
      throw new IntegrityError(id, 'authentication failed (tampered, truncated or wrong key)');
    }

    const actual = Buffer.from(this.idOf(plaintext), 'latin1');
    const expected = Buffer.from(id, 'latin1');
    if (!timingSafeEqual(actual, expected)) throw new IntegrityError(id, 'content does not match its id');
    return plaintext;
  }
}
