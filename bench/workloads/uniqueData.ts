// Write payloads whose every 4 KiB is unique, so a content-addressed store
// (mosaicfs ids blocks by HMAC of the plaintext) cannot dedupe the benchmark away.
import { randomFillSync } from 'node:crypto';

const STAMP_EVERY = 4096;

export class UniqueData {
  private readonly buf: Buffer;
  private counter = 0;
  private readonly salt = Math.floor(Math.random() * 0xffffffff);

  constructor(size: number) {
    this.buf = randomFillSync(Buffer.alloc(size));
  }

  /** The same buffer, restamped: valid until the next call. */
  next(): Buffer {
    const n = this.counter++;
    for (let off = 0; off + 8 <= this.buf.length; off += STAMP_EVERY) {
      this.buf.writeUInt32LE(n, off);
      this.buf.writeUInt32LE((this.salt ^ off) >>> 0, off + 4);
    }
    return this.buf;
  }
}
