/** FUSE protocol encoding and decoding against byte layouts computed by hand from linux/fuse.h. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fattr, Size } from '../../../src/fuse/kernel/abi.js';
import { decodeSetattr } from '../../../src/fuse/kernel/FuseSession.js';
import {
  ArgReader, decodeInHeader, decodeInitIn, direntSize, encodeAttrOut, encodeEntryOut, encodeInitOut, encodeOpenOut,
  encodeOutHeader, encodeStatfsOut, ProtocolError, writeDirent,
} from '../../../src/fuse/kernel/wire.js';
import { S_IFDIR, S_IFREG } from '../../../src/meta/MetaStore.js';
import type { InodeAttr } from '../../../src/vfs/types.js';

/** Expectations below are little-endian hex written out by hand. */
const hex = (b: Buffer) => b.toString('hex');
const attr: InodeAttr = {
  ino: 0x1_0000_0002, mode: S_IFREG | 0o644, uid: 1000, gid: 100, size: 1025, nlink: 2, rdev: 0, allocated: 1025,
  atime: { sec: 1, nsec: 2 }, mtime: { sec: -1, nsec: 999_999_999 }, ctime: { sec: 0x1_0000_0000, nsec: 0 }, crtime: { sec: 0, nsec: 0 },
};

describe('FUSE wire format', () => {
  it('decodes fuse_in_header (40 bytes)', () => {
    const b = Buffer.from(
      '38000000' + '01000000' + '0807060504030201' + '0200000001000000' + 'e8030000' + '64000000' + '39300000' + '0000' + '0000',
      'hex',
    );
    assert.equal(b.length, Size.IN_HEADER);
    assert.deepEqual(decodeInHeader(b), {
      len: 56, opcode: 1, unique: 0x0102030405060708n, nodeid: 0x1_0000_0002, uid: 1000, gid: 100, pid: 12345,
    });
  });

  it('encodes fuse_out_header with a negative errno', () => {
    assert.equal(hex(encodeOutHeader(16, -2, 0x0102030405060708n)), '10000000' + 'feffffff' + '0807060504030201');
  });

  it('encodes fuse_entry_out: nodeid, timeouts split into sec/nsec, then fuse_attr', () => {
    const b = encodeEntryOut(attr, { entry: 1.5, attr: 2 }, 4096);
    assert.equal(b.length, 128);
    assert.equal(hex(b.subarray(0, 40)),
      '0200000001000000' + '0000000000000000' + '0100000000000000' + '0200000000000000' + '0065cd1d' + '00000000');
    const a = b.subarray(40);
    assert.equal(hex(a.subarray(0, 48)),
      '0200000001000000' + '0104000000000000' + '0300000000000000' + // ino, size, blocks = ceil(1025/512)
      '0100000000000000' + 'ffffffffffffffff' + '0000000001000000'); // atime 1, mtime -1, ctime 2^32
    assert.equal(hex(a.subarray(48, 88)),
      '02000000' + 'ffc99a3b' + '00000000' + 'a4810000' + '02000000' + 'e8030000' + '64000000' + '00000000' + '00100000' + '00000000');
  });

  it('encodes a negative entry as nodeid 0 with only the entry timeout', () => {
    const b = encodeEntryOut(null, { entry: 3, attr: 0 }, 4096);
    assert.equal(hex(b.subarray(0, 24)), '0000000000000000'.repeat(2) + '0300000000000000');
    assert.ok(b.subarray(24).every((x) => x === 0));
  });

  it('encodes fuse_attr_out (104 bytes) and fuse_open_out', () => {
    const b = encodeAttrOut(attr, 0.25, 512);
    assert.equal(b.length, 104);
    assert.equal(hex(b.subarray(0, 16)), '0000000000000000' + '80b2e60e' + '00000000');
    assert.equal(b.readUInt32LE(16 + 60), S_IFREG | 0o644);
    assert.equal(hex(encodeOpenOut(7, 2)), '0700000000000000' + '02000000' + '00000000');
  });

  it('encodes fuse_kstatfs (80 bytes)', () => {
    const b = encodeStatfsOut({ bsize: 4096, frsize: 512, blocks: 2 ** 40, bfree: 5, bavail: 4, files: 3, ffree: 2, namemax: 255 });
    assert.equal(hex(b.subarray(0, 56)),
      '0000000000010000' + '0500000000000000' + '0400000000000000' + '0300000000000000' + '0200000000000000' +
      '00100000' + 'ff000000' + '00020000' + '00000000');
    assert.ok(b.subarray(56).every((x) => x === 0));
    assert.equal(b.length, 80);
  });

  it('decodes fuse_init_in and encodes fuse_init_out (64 bytes)', () => {
    const r = new ArgReader(Buffer.from('07000000' + '2d000000' + '00000200' + '01004000', 'hex'), 0, 16);
    assert.deepEqual(decodeInitIn(r), { major: 7, minor: 45, maxReadahead: 131072, flags: 0x400001 });
    const out = encodeInitOut({
      major: 7, minor: 38, maxReadahead: 0x100000, flags: 0x80000001, maxBackground: 64, congestionThreshold: 48,
      maxWrite: 0x100000, timeGran: 1, maxPages: 256,
    });
    assert.equal(out.length, 64);
    assert.equal(hex(out.subarray(0, 32)),
      '07000000' + '26000000' + '00001000' + '01000080' + '4000' + '3000' + '00001000' + '01000000' + '0001' + '0000');
    assert.ok(out.subarray(32).every((x) => x === 0));
  });

  it('decodes fuse_setattr_in: only valid fields, UTIME_NOW as "now", negative seconds', () => {
    const b = Buffer.alloc(88);
    b.writeUInt32LE(Fattr.MODE | Fattr.ATIME | Fattr.ATIME_NOW | Fattr.MTIME | Fattr.FH, 0);
    b.writeBigUInt64LE(9n, 8); // fh
    b.writeBigUInt64LE(1234n, 16); // size (not valid: ignored)
    b.writeBigInt64LE(-5n, 40); // mtime (atime at 32, ctime at 48)
    b.writeUInt32LE(7, 60); // mtimensec
    b.writeUInt32LE(0o100755, 68); // mode
    b.writeUInt32LE(42, 76); // uid (not valid)
    assert.deepEqual(decodeSetattr(new ArgReader(b, 0, 88)), { fh: 9, mode: 0o100755, atime: 'now', mtime: { sec: -5, nsec: 7 } });
  });

  it('writes fuse_dirent and fuse_direntplus records padded to 8 bytes', () => {
    const e = { name: 'ab', ino: 5, mode: S_IFDIR | 0o755, next: 7 };
    assert.equal(direntSize(2, false), 32);
    const b = Buffer.alloc(32, 0xee);
    assert.equal(writeDirent(b, 0, e, Buffer.from('ab'), null), 32);
    assert.equal(hex(b), '0500000000000000' + '0700000000000000' + '02000000' + '04000000' + '6162' + '000000000000');
    assert.equal(direntSize(2, true), 160);
    const p = Buffer.alloc(160, 0xee);
    assert.equal(writeDirent(p, 0, e, Buffer.from('ab'), { attr: null, t: { entry: 1, attr: 1 }, blksize: 4096 }), 160);
    assert.equal(p.readBigUInt64LE(0), 0n); // nodeid 0: the kernel takes no reference
    assert.equal(hex(p.subarray(128)), '0500000000000000' + '0700000000000000' + '02000000' + '04000000' + '6162' + '000000000000');
  });

  it('reads NUL-terminated names and refuses short or unterminated input', () => {
    const r = new ArgReader(Buffer.from('old\0new\0', 'latin1'), 0, 8);
    assert.equal(r.cstring(), 'old');
    assert.equal(r.cstring(), 'new');
    assert.throws(() => new ArgReader(Buffer.from('abc'), 0, 3).cstring(), ProtocolError);
    assert.throws(() => new ArgReader(Buffer.alloc(4), 0, 4).u64(), ProtocolError);
  });
});
