/**
 * Byte layouts of the FUSE kernel protocol: decoding requests (little-endian structs after a
 * 40-byte fuse_in_header) and encoding replies. Pure functions over Buffers, unit-tested against
 * hand-computed layouts in test/fuse/kernel/wire.test.ts.
 */
import { S_IFMT } from '../../meta/MetaStore.js';
import type { InodeAttr, StatFs, Timespec } from '../../vfs/types.js';
import { Size } from './abi.js';

const TWO32 = 2 ** 32;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

export function decodeInHeader(buf: Buffer): InHeader {
  return {
    len: buf.readUInt32LE(0),
    opcode: buf.readUInt32LE(4),
    unique: buf.readBigUInt64LE(8),
    nodeid: readU64(buf, 16),
    uid: buf.readUInt32LE(24),
    gid: buf.readUInt32LE(28),
    pid: buf.readUInt32LE(32),
  };
}

/** A u64 as a JS number (exact up to 2^53, which every inode, offset and handle we use is below). */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

/** A signed 64-bit value (times before 1970 are negative). */
export function writeI64(buf: Buffer, n: number, off: number): void {
  const hi = Math.floor(n / TWO32);
  buf.writeUInt32LE(n - hi * TWO32, off);
  buf.writeInt32LE(hi, off + 4);
}

export function writeU64(buf: Buffer, n: number, off: number): void {
  buf.writeUInt32LE(n % TWO32, off);
  buf.writeUInt32LE(Math.floor(n / TWO32), off + 4);
}

/** Sequential reader over one request's argument bytes. */
export class ArgReader {
  constructor(readonly buf: Buffer, public pos: number, readonly end: number) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = readU64(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  i64(): number {
    this.need(8);
    const v = this.buf.readUInt32LE(this.pos) + this.buf.readInt32LE(this.pos + 4) * TWO32;
    this.pos += 8;
    return v;
  }

  skip(n: number): this {
    this.need(n);
    this.pos += n;
    return this;
  }

  /** A NUL-terminated string (names, symlink targets, xattr names). */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('unterminated string');
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /** The next n bytes as a view into the request buffer (valid only while that buffer is). */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtocolError(`request too short: need ${n} bytes at ${this.pos}, have ${this.end - this.pos}`);
  }
}

/** The kernel sent something we cannot parse (replied to with EINVAL). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeOutHeader(len: number, error: number, unique: bigint): Buffer {
  const b = Buffer.allocUnsafe(Size.OUT_HEADER);
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
  return b;
}

/** fuse_attr (88 bytes) at `off`. */
export function writeAttr(buf: Buffer, off: number, a: InodeAttr, blksize: number): void {
  writeU64(buf, a.ino, off);
  writeU64(buf, a.size, off + 8);
  writeU64(buf, Math.ceil(a.allocated / 512), off + 16); // 512-byte units of the stored bytes (holes cost nothing)
  writeI64(buf, a.atime.sec, off + 24);
  writeI64(buf, a.mtime.sec, off + 32);
  writeI64(buf, a.ctime.sec, off + 40);
  buf.writeUInt32LE(a.atime.nsec, off + 48);
  buf.writeUInt32LE(a.mtime.nsec, off + 52);
  buf.writeUInt32LE(a.ctime.nsec, off + 56);
  buf.writeUInt32LE(a.mode >>> 0, off + 60);
  buf.writeUInt32LE(a.nlink >>> 0, off + 64);
  buf.writeUInt32LE(a.uid >>> 0, off + 68);
  buf.writeUInt32LE(a.gid >>> 0, off + 72);
  buf.writeUInt32LE(a.rdev >>> 0, off + 76);
  buf.writeUInt32LE(blksize, off + 80);
  buf.writeUInt32LE(0, off + 84); // flags
}

/** Seconds (fractional) as the (u64 sec, u32 nsec) pair cache timeouts travel as. */
export function splitTimeout(seconds: number): Timespec {
  const sec = Math.floor(seconds);
  return { sec, nsec: Math.min(999_999_999, Math.round((seconds - sec) * 1e9)) };
}

export interface Timeouts {
  entry: number;
  attr: number;
}

/** fuse_entry_out (128 bytes) at `off`; attr null means a negative entry (nodeid 0). */
export function writeEntryOut(buf: Buffer, off: number, a: InodeAttr | null, t: Timeouts, blksize: number): void {
  buf.fill(0, off, off + Size.ENTRY_OUT);
  const entry = splitTimeout(t.entry);
  const attr = splitTimeout(t.attr);
  if (a) writeU64(buf, a.ino, off);
  // generation (off + 8) stays 0: inode numbers are never reused within a volume.
  writeU64(buf, entry.sec, off + 16);
  writeU64(buf, attr.sec, off + 24);
  buf.writeUInt32LE(entry.nsec, off + 32);
  buf.writeUInt32LE(attr.nsec, off + 36);
  if (a) writeAttr(buf, off + 40, a, blksize);
}

export function encodeEntryOut(a: InodeAttr | null, t: Timeouts, blksize: number): Buffer {
  const b = Buffer.allocUnsafe(Size.ENTRY_OUT);
  writeEntryOut(b, 0, a, t, blksize);
  return b;
}

export function encodeAttrOut(a: InodeAttr, attrTimeout: number, blksize: number): Buffer {
  const b = Buffer.alloc(Size.ATTR_OUT);
  const t = splitTimeout(attrTimeout);
  writeU64(b, t.sec, 0);
  b.writeUInt32LE(t.nsec, 8);
  writeAttr(b, 16, a, blksize);
  return b;
}

export function encodeOpenOut(fh: number, openFlags: number): Buffer {
  const b = Buffer.alloc(Size.OPEN_OUT);
  writeU64(b, fh, 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

/** fuse_write_out, fuse_getxattr_out: one u32 and padding. */
export function encodeU32Out(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  return b;
}

export function encodeU64Out(n: number): Buffer {
  const b = Buffer.alloc(8);
  writeU64(b, n, 0);
  return b;
}

export function encodeStatfsOut(s: StatFs): Buffer {
  const b = Buffer.alloc(Size.KSTATFS);
  const u = (n: number) => Math.max(0, Math.floor(n));
  writeU64(b, u(s.blocks), 0);
  writeU64(b, u(s.bfree), 8);
  writeU64(b, u(s.bavail), 16);
  writeU64(b, u(s.files), 24);
  writeU64(b, u(s.ffree), 32);
  b.writeUInt32LE(u(s.bsize), 40);
  b.writeUInt32LE(u(s.namemax), 44);
  b.writeUInt32LE(u(s.frsize), 48);
  return b;
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function decodeInitIn(r: ArgReader): InitIn {
  return { major: r.u32(), minor: r.u32(), maxReadahead: r.u32(), flags: r.u32() };
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
}

export function encodeInitOut(o: InitOut): Buffer {
  const b = Buffer.alloc(Size.INIT_OUT);
  b.writeUInt32LE(o.major, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(o.flags >>> 0, 12);
  b.writeUInt16LE(o.maxBackground, 16);
  b.writeUInt16LE(o.congestionThreshold, 18);
  b.writeUInt32LE(o.maxWrite, 20);
  b.writeUInt32LE(o.timeGran, 24);
  b.writeUInt16LE(o.maxPages, 28);
  // map_alignment (30), flags2 (32) and unused[7] stay 0.
  return b;
}

export interface DirEntry {
  name: string;
  ino: number;
  mode: number;
  /** Offset of the entry after this one (fuse_dirent.off). */
  next: number;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Bytes one entry takes in a READDIR (plus = false) or READDIRPLUS reply. */
export function direntSize(nameBytes: number, plus: boolean): number {
  return align8((plus ? Size.DIRENTPLUS : Size.DIRENT) + nameBytes);
}

/** fuse_dirent (or fuse_direntplus when entry is given) at `off`; returns bytes written. */
export function writeDirent(buf: Buffer, off: number, e: DirEntry, name: Buffer, plus: { attr: InodeAttr | null; t: Timeouts; blksize: number } | null): number {
  const size = direntSize(name.length, plus !== null);
  buf.fill(0, off, off + size);
  let p = off;
  if (plus) {
    writeEntryOut(buf, p, plus.attr, plus.t, plus.blksize);
    p += Size.ENTRY_OUT;
  }
  writeU64(buf, e.ino, p);
  writeU64(buf, e.next, p + 8);
  buf.writeUInt32LE(name.length, p + 16);
  buf.writeUInt32LE((e.mode & S_IFMT) >>> 12, p + 20); // DT_* = S_IF* >> 12
  name.copy(buf, p + 24);
  return size;
}
