/**
 * Sealed block format, version 2: independently authenticated segments, so a reader can fetch and
 * decrypt only the part of a block it needs.
 *
 *   header   = version (1 byte, = 2) || log2(segment size) (1 byte, = 16) || plaintext length
 *              (4 bytes BE) || nonce prefix (8 bytes)                                   = 14 bytes
 *   segments = the plaintext cut into segments of S = 64 KiB (the last one shorter; an empty
 *              plaintext is one empty segment); segment k is stored as
 *              AES-256-GCM(encKey, nonce_k, plaintext_k, aad_k) || tag (16 bytes)
 *   nonce_k  = nonce prefix (8) || k (4 bytes BE)
 *   aad_k    = id (64 ASCII bytes) || k (4 bytes BE) || segment count (4 bytes BE) || plaintext length (4 bytes BE)
 *
 * Segment k starts at 14 + k * (S + 16) whatever the block's length, so segments [a, b] are one
 * contiguous range computable from a, b and the plaintext length (which the MetaStore records).
 * The AAD binds each segment to its block, its position and the block's length: substitution from
 * another block, reordering, truncation and extension all fail authentication segment by segment.
 *
 * The nonce prefix is not random: it is the first 8 bytes of HMAC-SHA-256(nonceKey, id), with
 * nonceKey = HMAC-SHA-256(encKey, "mosaicfs block nonce v2"). A reader that fetches a range not
 * starting at segment 0 therefore needs no header and no second request. This is deterministic
 * encryption keyed by the content's id (SIV-like): equal plaintexts give equal sealed bytes, which
 * reveals nothing the equal ids do not already reveal, and distinct plaintexts (distinct ids) get
 * colliding prefixes with the same ~n^2/2^65 probability a random prefix would. The header still
 * carries the prefix so the format is self-describing; open() checks it equals the derived one.
 *
 * id = hex HMAC-SHA-256(idKey, plaintext) is computed at seal time (dedup). open() (fsck) verifies the
 * whole block and recomputes that HMAC; openSegments() (the read path) does not: per-segment AEAD with
 * the id in the AAD already proves that the key holder sealed these bytes as this part of this block.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import type { BlockCodec, SealedBlock, SealedRange } from './BlockCodec.js';

const VERSION = 2;
const SEGMENT_LOG2 = 16;
const SEGMENT_BYTES = 1 << SEGMENT_LOG2;
const PREFIX_BYTES = 8;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 1 + 4 + PREFIX_BYTES;
const ID_HEX_CHARS = 64;
const MAX_PLAIN_BYTES = 0xffffffff;
const NONCE_LABEL = 'mosaicfs block nonce v2';

export class AesGcmBlockCodec implements BlockCodec {
  readonly segmentSize = SEGMENT_BYTES;
  private readonly idKey: Buffer;
  private readonly encKey: Buffer;
  private readonly nonceKey: Buffer;

  constructor(keys: { idKey: Buffer; encKey: Buffer }) {
    if (keys.idKey.length !== 32 || keys.encKey.length !== 32) {
      throw new RangeError('AesGcmBlockCodec needs a 32-byte idKey and a 32-byte encKey');
    }
    this.idKey = Buffer.from(keys.idKey);
    this.encKey = Buffer.from(keys.encKey);
    this.nonceKey = createHmac('sha256', this.encKey).update(NONCE_LABEL).digest();
  }

  idOf(plaintext: Uint8Array): string {
    return createHmac('sha256', this.idKey).update(plaintext).digest('hex');
  }

  segmentCount(plainSize: number): number {
    return Math.max(1, Math.ceil(plainSize / SEGMENT_BYTES));
  }

  sealedSize(plainSize: number): number {
    return HEADER_BYTES + plainSize + TAG_BYTES * this.segmentCount(plainSize);
  }

  segmentRange(plainSize: number, first: number, last: number): SealedRange {
    const count = this.segmentCount(plainSize);
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first || last >= count) {
      throw new RangeError(`segments [${first}, ${last}] of a block with ${count}`);
    }
    const offset = first === 0 ? 0 : segmentOffset(first);
    const end = last === count - 1 ? this.sealedSize(plainSize) : segmentOffset(last + 1);
    return { offset, length: end - offset };
  }

  seal(plaintext: Uint8Array): SealedBlock {
    const id = this.idOf(plaintext);
    return { id, data: this.sealWithId(id, plaintext) };
  }

  sealWithId(id: string, plaintext: Uint8Array): Buffer {
    const size = plaintext.length;
    if (size > MAX_PLAIN_BYTES) throw new RangeError(`block of ${size} bytes is larger than the format allows`);
    const count = this.segmentCount(size);
    const prefix = this.noncePrefix(id);
    const out = Buffer.allocUnsafe(this.sealedSize(size));
    out[0] = VERSION;
    out[1] = SEGMENT_LOG2;
    out.writeUInt32BE(size, 2);
    prefix.copy(out, 6);
    let pos = HEADER_BYTES;
    for (let k = 0; k < count; k++) {
      const part = plaintext.subarray(k * SEGMENT_BYTES, Math.min(size, (k + 1) * SEGMENT_BYTES));
      const cipher = createCipheriv('aes-256-gcm', this.encKey, nonce(prefix, k));
      cipher.setAAD(aad(id, k, count, size));
      pos += cipher.update(part).copy(out, pos);
      pos += cipher.final().copy(out, pos);
      pos += cipher.getAuthTag().copy(out, pos);
    }
    return out;
  }

  open(id: string, sealed: Uint8Array): Buffer {
    checkId(id);
    const buf = asBuffer(sealed);
    if (buf.length < HEADER_BYTES) throw new IntegrityError(id, `too short (${buf.length} bytes)`);
    const size = buf.readUInt32BE(2);
    if (buf.length !== this.sealedSize(size)) {
      throw new IntegrityError(id, `${buf.length} sealed bytes, but its header announces ${size} bytes of data (truncated or extended)`);
    }
    const segments = this.openSegments(id, size, 0, buf);
    const plaintext = segments.length === 1 ? segments[0] : Buffer.concat(segments, size);
    const actual = Buffer.from(this.idOf(plaintext), 'latin1');
    if (!timingSafeEqual(actual, Buffer.from(id, 'latin1'))) throw new IntegrityError(id, 'content does not match its id');
    return plaintext;
  }

  openSegments(id: string, plainSize: number, first: number, sealed: Uint8Array): Buffer[] {
    checkId(id);
    if (!Number.isInteger(plainSize) || plainSize < 0 || plainSize > MAX_PLAIN_BYTES) throw new IntegrityError(id, `bad block size ${plainSize}`);
    const count = this.segmentCount(plainSize);
    if (!Number.isInteger(first) || first < 0 || first >= count) throw new IntegrityError(id, `no segment ${first} in a block of ${count}`);
    const buf = asBuffer(sealed);
    const prefix = this.noncePrefix(id);
    let pos = 0;
    if (first === 0) {
      this.checkHeader(id, buf, plainSize, prefix);
      pos = HEADER_BYTES;
    }
    const out: Buffer[] = [];
    for (let k = first; pos < buf.length || out.length === 0; k++) {
      if (k >= count) throw new IntegrityError(id, `sealed range extends past the last segment (${count})`);
      const segLen = Math.min(SEGMENT_BYTES, plainSize - k * SEGMENT_BYTES);
      const end = pos + segLen + TAG_BYTES;
      if (end > buf.length) throw new IntegrityError(id, `segment ${k} is truncated`);
      out.push(this.openSegment(id, prefix, k, count, plainSize, buf.subarray(pos, end)));
      pos = end;
    }
    return out;
  }

  private openSegment(id: string, prefix: Buffer, k: number, count: number, size: number, sealed: Buffer): Buffer {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, nonce(prefix, k));
      decipher.setAAD(aad(id, k, count, size));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      const rest = decipher.final();
      return rest.length === 0 ? body : Buffer.concat([body, rest]);
    } catch {
      throw new IntegrityError(id, `authentication failed in segment ${k} (tampered, truncated, misplaced or wrong key)`);
    }
  }

  private checkHeader(id: string, buf: Buffer, plainSize: number, prefix: Buffer): void {
    if (buf.length < HEADER_BYTES) throw new IntegrityError(id, `too short (${buf.length} bytes)`);
    if (buf[0] !== VERSION) throw new IntegrityError(id, `unknown block format version ${buf[0]}`);
    if (buf[1] !== SEGMENT_LOG2) throw new IntegrityError(id, `unsupported segment size 2^${buf[1]}`);
    if (buf.readUInt32BE(2) !== plainSize) throw new IntegrityError(id, `header announces ${buf.readUInt32BE(2)} bytes, expected ${plainSize}`);
    if (!timingSafeEqual(buf.subarray(6, HEADER_BYTES), prefix)) throw new IntegrityError(id, 'nonce prefix does not belong to this id');
  }

  private noncePrefix(id: string): Buffer {
    return createHmac('sha256', this.nonceKey).update(id, 'latin1').digest().subarray(0, PREFIX_BYTES);
  }
}

function segmentOffset(k: number): number {
  return HEADER_BYTES + k * (SEGMENT_BYTES + TAG_BYTES);
}

function nonce(prefix: Buffer, k: number): Buffer {
  const n = Buffer.allocUnsafe(PREFIX_BYTES + 4);
  prefix.copy(n, 0);
  n.writeUInt32BE(k, PREFIX_BYTES);
  return n;
}

function aad(id: string, k: number, count: number, size: number): Buffer {
  const a = Buffer.allocUnsafe(ID_HEX_CHARS + 12);
  a.write(id, 0, ID_HEX_CHARS, 'latin1');
  a.writeUInt32BE(k, ID_HEX_CHARS);
  a.writeUInt32BE(count, ID_HEX_CHARS + 4);
  a.writeUInt32BE(size, ID_HEX_CHARS + 8);
  return a;
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length !== ID_HEX_CHARS) throw new IntegrityError(String(id), 'malformed block id');
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
