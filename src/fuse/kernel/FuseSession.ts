/**
 * The FUSE kernel protocol over one /dev/fuse connection: decodes each request as soon as it is
 * read, calls the file system (FuseOps), and writes the reply when its promise settles. Many
 * requests are in flight at once; nothing here waits for one before reading the next.
 *
 * Choices worth knowing:
 * - Locks are left to the kernel: we advertise neither POSIX_LOCKS nor FLOCK_LOCKS, so flock(2)
 *   and fcntl locks are handled by the kernel locally, which is right for a single-host mount.
 * - No DONT_MASK: the kernel applies the caller's umask before mode reaches us.
 * - No WRITEBACK_CACHE: it doubled sequential writes in a prototype but halved deletes and random
 *   reads, and moves mtime/size authority into the kernel.
 * - Lookup counts (nlookup) are kept here, not in the file system: every entry reply counts one,
 *   FORGET/BATCH_FORGET subtract; ops.forget(ino) hears when an inode drops to zero.
 * - Cache timeouts travel in each reply (entry_valid/attr_valid), from SessionOptions.
 */
import { constants } from 'node:os';
import { isFsError, toErrno } from '../../errors.js';
import { log } from '../../util/log.js';
import type { OpStats } from '../opStats.js';
import type { InodeAttr } from '../../vfs/types.js';
import {
  Fattr, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE, FOPEN_NOFLUSH, FUSE_FSYNC_FDATASYNC, FUSE_GETATTR_FH, FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION, FUSE_ROOT_ID, InitFlag, MAX_PAGES, MAX_WRITE, Op, Size,
} from './abi.js';
import { FuseChannel, type HeldBuffer } from './channel.js';
import { encodeInvalEntry, encodeInvalInode, NotifyQueue } from './notify.js';
import type { FuseOps, FuseRequest, Opened, SetattrIn } from './ops.js';
import {
  ArgReader, decodeInHeader, decodeInitIn, direntSize, encodeAttrOut, encodeEntryOut, encodeInitOut, encodeOpenOut,
  encodeOutHeader, encodeStatfsOut, encodeU32Out, encodeU64Out, ProtocolError, writeDirent, type DirEntry, type Timeouts,
} from './wire.js';

const E = constants.errno;

export interface SessionOptions {
  /** Seconds the kernel may cache a name -> inode. */
  entryTimeout: number;
  /** Seconds the kernel may cache attributes. */
  attrTimeout: number;
  /** Seconds the kernel may cache "no such name" (0 = never). */
  negativeTimeout: number;
  /** st_blksize reported for every inode (default: the largest write, 1 MiB). */
  blksize?: number;
  /** Ask for READDIRPLUS (names and attributes in one reply). Default true. */
  readdirplus?: boolean;
  /** Called with the size of every WRITE request (for tests and statistics). */
  onWrite?: (size: number) => void;
  /** Count and time every request by opcode (MOSAICFS_FUSE_STATS=1). */
  stats?: OpStats;
}

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

type Payload = Buffer | Buffer[] | null;

export class FuseSession {
  private readonly channel: FuseChannel;
  private readonly lookups = new Map<number, number>();
  private readonly timeouts: Timeouts;
  private readonly blksize: number;
  private readonly trace = log.isLevelEnabled('trace');
  /** With stats: when each request still waiting for its reply was decoded, and its opcode. */
  private readonly started = new Map<bigint, { opcode: number; t: bigint }>();
  private initDone!: () => void;
  private initFailed!: (err: Error) => void;
  /** Resolves once INIT has been answered (the mount is usable). */
  readonly ready: Promise<void>;
  /** Protocol minor version agreed with the kernel (0 until INIT). */
  minor = 0;
  /** Cache invalidations for the kernel, written off the JS thread (see notify.ts). */
  readonly notifications: NotifyQueue;

  constructor(fd: number, private readonly ops: FuseOps, private readonly opts: SessionOptions) {
    this.channel = new FuseChannel(fd, (buf, len, hold) => this.onRequest(buf, len, hold));
    this.notifications = new NotifyQueue(() => this.channel.fdOrClosed);
    this.timeouts = { entry: opts.entryTimeout, attr: opts.attrTimeout };
    this.blksize = opts.blksize ?? MAX_WRITE;
    this.ready = new Promise((resolve, reject) => { this.initDone = resolve; this.initFailed = reject; });
    this.ready.catch(() => {}); // observed through `ready`; avoid an unhandled rejection if nobody waits
    void this.channel.closed.then(() => this.initFailed(new Error('FUSE connection closed before INIT')));
  }

  /** Resolves when the kernel ended the connection (after an unmount) or close() was called. */
  get closed(): Promise<void> {
    return this.channel.closed;
  }

  /** Number of inodes the kernel currently holds references to (excluding the root). */
  get knownInodes(): number {
    return this.lookups.size;
  }

  start(): void {
    this.channel.start();
  }

  /**
   * Make the kernel drop its cached attributes and pages of `ino` (another client changed it).
   * Skipped when the kernel holds no reference to the inode: it has nothing cached then.
   */
  invalidateInode(ino: number): void {
    if (this.minor === 0 || (ino !== FUSE_ROOT_ID && !this.lookups.has(ino))) return;
    this.notifications.push(`i${ino}`, encodeInvalInode(ino));
  }

  /** Make the kernel drop its cached lookup of `name` in directory `parent` (and the parent's attributes). */
  invalidateEntry(parent: number, name: string): void {
    if (this.minor === 0 || (parent !== FUSE_ROOT_ID && !this.lookups.has(parent))) return;
    this.notifications.push(`e${parent}/${name}`, encodeInvalEntry(parent, name));
  }

  close(): void {
    this.channel.close();
  }

  private onRequest(buf: Buffer, len: number, hold: () => HeldBuffer): void {
    if (len < Size.IN_HEADER) {
      log.error({ len }, 'FUSE request shorter than its header; ignored');
      return;
    }
    const h = decodeInHeader(buf);
    const req: FuseRequest = { unique: h.unique, opcode: h.opcode, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid };
    const r = new ArgReader(buf, Size.IN_HEADER, Math.min(len, h.len));
    if (this.trace) log.trace({ opcode: h.opcode, unique: String(h.unique), nodeid: h.nodeid, len: h.len }, 'FUSE request');
    if (this.opts.stats) this.started.set(h.unique, { opcode: h.opcode, t: process.hrtime.bigint() });
    try {
      this.dispatch(req, r, hold);
    } catch (err) {
      this.fail(req, err);
    }
  }

  private dispatch(req: FuseRequest, r: ArgReader, hold: () => HeldBuffer): void {
    const { ops } = this;
    const ino = req.nodeid;
    switch (req.opcode) {
      case Op.INIT: return this.init(req, r);
      case Op.FORGET:
        this.replied(req.unique);
        return this.forget(ino, r.u64());
      case Op.BATCH_FORGET: {
        this.replied(req.unique);
        const count = r.u32();
        r.skip(4);
        for (let i = 0; i < count; i++) this.forget(r.u64(), r.u64());
        return;
      }
      case Op.INTERRUPT: // requests finish quickly or not at all; the kernel waits for the reply
        this.replied(req.unique);
        return;
      case Op.DESTROY: return this.call(req, ops.destroy ? () => ops.destroy!() : async () => {}, () => null);
      case Op.LOOKUP: {
        const name = r.cstring();
        return this.entry(req, ops.lookup && (() => ops.lookup!(req, ino, name)), true);
      }
      case Op.GETATTR: {
        const flags = r.u32();
        r.skip(4);
        const fh = r.u64();
        return this.attr(req, ops.getattr && (() => ops.getattr!(req, ino, flags & FUSE_GETATTR_FH ? fh : undefined)));
      }
      case Op.SETATTR: {
        const set = decodeSetattr(r);
        return this.attr(req, ops.setattr && (() => ops.setattr!(req, ino, set)));
      }
      case Op.READLINK:
        return this.call(req, ops.readlink && (() => ops.readlink!(req, ino)), (t) => Buffer.from(t));
      case Op.SYMLINK: {
        const name = r.cstring();
        const target = r.cstring();
        return this.entry(req, ops.symlink && (() => ops.symlink!(req, ino, name, target)));
      }
      case Op.MKNOD: {
        const mode = r.u32();
        const rdev = r.u32();
        r.skip(8); // umask (already applied by the kernel), padding
        const name = r.cstring();
        return this.entry(req, ops.mknod && (() => ops.mknod!(req, ino, name, mode, rdev)));
      }
      case Op.MKDIR: {
        const mode = r.u32();
        r.skip(4);
        const name = r.cstring();
        return this.entry(req, ops.mkdir && (() => ops.mkdir!(req, ino, name, mode)));
      }
      case Op.UNLINK: {
        const name = r.cstring();
        return this.call(req, ops.unlink && (() => ops.unlink!(req, ino, name)), () => null);
      }
      case Op.RMDIR: {
        const name = r.cstring();
        return this.call(req, ops.rmdir && (() => ops.rmdir!(req, ino, name)), () => null);
      }
      case Op.RENAME:
      case Op.RENAME2: {
        const newDir = r.u64();
        const flags = req.opcode === Op.RENAME2 ? r.u32() : 0;
        if (req.opcode === Op.RENAME2) r.skip(4);
        const name = r.cstring();
        const newName = r.cstring();
        return this.call(req, ops.rename && (() => ops.rename!(req, ino, name, newDir, newName, flags)), () => null);
      }
      case Op.LINK: {
        const oldIno = r.u64();
        const name = r.cstring();
        return this.entry(req, ops.link && (() => ops.link!(req, oldIno, ino, name)));
      }
      case Op.OPEN:
      case Op.OPENDIR: {
        const flags = r.u32();
        const open = req.opcode === Op.OPEN ? ops.open : ops.opendir;
        return this.call(req, open && (() => open.call(ops, req, ino, flags)), (o) => encodeOpenOut(o.fh, openFlags(o)));
      }
      case Op.CREATE: {
        const flags = r.u32();
        const mode = r.u32();
        r.skip(8); // umask, open_flags
        const name = r.cstring();
        return this.call(req, ops.create && (() => ops.create!(req, ino, name, mode, flags)), (c) => {
          this.countLookup(c.attr.ino);
          return [encodeEntryOut(c.attr, this.timeouts, this.blksize), encodeOpenOut(c.fh, openFlags(c))];
        }, (c) => this.forget(c.attr.ino, 1));
      }
      case Op.READ: {
        const fh = r.u64();
        const offset = r.u64();
        const size = r.u32();
        const clip = (d: Buffer) => (d.length > size ? d.subarray(0, size) : d);
        const replied = ops.readReplied && ((d: Buffer) => ops.readReplied!(req, ino, fh, offset, size, clip(d)));
        return this.call(req, ops.read && (() => ops.read!(req, ino, fh, offset, size)), clip, undefined, undefined, replied);
      }
      case Op.WRITE: {
        const fh = r.u64();
        const offset = r.u64();
        const size = r.u32();
        r.skip(20); // write_flags, lock_owner, flags, padding
        const data = r.bytes(size);
        this.opts.onWrite?.(size);
        if (!ops.write) return this.error(req, E.ENOSYS);
        const held = hold();
        return this.call(req, () => ops.write!(req, ino, fh, offset, data).finally(() => held.release()), (n) => encodeU32Out(n));
      }
      case Op.STATFS:
        return this.call(req, ops.statfs && (() => ops.statfs!(req, ino)), (s) => encodeStatfsOut(s));
      case Op.RELEASE:
      case Op.RELEASEDIR: {
        const fh = r.u64();
        const release = req.opcode === Op.RELEASE ? ops.release : ops.releasedir;
        return this.call(req, release ? () => release.call(ops, req, ino, fh) : async () => {}, () => null);
      }
      case Op.FSYNC:
      case Op.FSYNCDIR: {
        const fh = r.u64();
        const datasync = (r.u32() & FUSE_FSYNC_FDATASYNC) !== 0;
        const fsync = req.opcode === Op.FSYNC ? ops.fsync : ops.fsyncdir;
        return this.call(req, fsync && (() => fsync.call(ops, req, ino, fh, datasync)), () => null);
      }
      case Op.FLUSH: {
        const fh = r.u64();
        return this.call(req, ops.flush ? () => ops.flush!(req, ino, fh) : async () => {}, () => null);
      }
      case Op.SETXATTR: {
        const size = r.u32();
        const flags = r.u32();
        const name = r.cstring();
        const value = Buffer.from(r.bytes(size)); // copied: the request buffer is reused
        return this.call(req, ops.setxattr && (() => ops.setxattr!(req, ino, name, value, flags)), () => null);
      }
      case Op.GETXATTR: {
        const size = r.u32();
        r.skip(4);
        const name = r.cstring();
        return this.sized(req, size, ops.getxattr && (() => ops.getxattr!(req, ino, name)));
      }
      case Op.LISTXATTR: {
        const size = r.u32();
        const list = ops.listxattr;
        return this.sized(req, size, list && (async () => Buffer.from((await list.call(ops, req, ino)).map((n) => `${n}\0`).join(''))));
      }
      case Op.REMOVEXATTR: {
        const name = r.cstring();
        return this.call(req, ops.removexattr && (() => ops.removexattr!(req, ino, name)), () => null);
      }
      case Op.ACCESS: {
        const mask = r.u32();
        return this.call(req, ops.access && (() => ops.access!(req, ino, mask)), () => null);
      }
      case Op.READDIR:
      case Op.READDIRPLUS:
        return this.readdir(req, r, req.opcode === Op.READDIRPLUS);
      case Op.FALLOCATE: {
        const fh = r.u64();
        const offset = r.u64();
        const length = r.u64();
        const mode = r.u32();
        return this.call(req, ops.fallocate && (() => ops.fallocate!(req, ino, fh, offset, length, mode)), () => null);
      }
      case Op.LSEEK: {
        const fh = r.u64();
        const offset = r.u64();
        const whence = r.u32();
        return this.call(req, ops.lseek && (() => ops.lseek!(req, ino, fh, offset, whence)), (o) => encodeU64Out(o));
      }
      default:
        return this.error(req, E.ENOSYS);
    }
  }

  private init(req: FuseRequest, r: ArgReader): void {
    const kin = decodeInitIn(r);
    if (kin.major < FUSE_KERNEL_VERSION || (kin.major === FUSE_KERNEL_VERSION && kin.minor < 31)) {
      log.error({ major: kin.major, minor: kin.minor }, 'kernel FUSE protocol too old (need 7.31+)');
      this.error(req, E.EPROTO);
      this.initFailed(new Error(`kernel FUSE protocol ${kin.major}.${kin.minor} is too old (need 7.31+)`));
      return;
    }
    this.minor = kin.major > FUSE_KERNEL_VERSION ? FUSE_KERNEL_MINOR_VERSION : Math.min(kin.minor, FUSE_KERNEL_MINOR_VERSION);
    // HANDLE_KILLPRIV_V2: the Vfs drops set-id bits and security.capability itself (write,
    // truncate, O_TRUNC, chown: attrRules.ts, xattrPolicy.ts), by the caller's uid.
    let want = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.ATOMIC_O_TRUNC | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES
      | InitFlag.HANDLE_KILLPRIV_V2;
    if (this.opts.readdirplus ?? true) want |= InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
    const out = encodeInitOut({
      major: FUSE_KERNEL_VERSION,
      minor: FUSE_KERNEL_MINOR_VERSION,
      maxReadahead: Math.min(kin.maxReadahead, MAX_WRITE),
      flags: want & kin.flags,
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite: MAX_WRITE,
      timeGran: 1,
      maxPages: MAX_PAGES,
    });
    // A newer major: answer with ours only, and the kernel sends INIT again in our version.
    this.send(req.unique, kin.major > FUSE_KERNEL_VERSION ? out.subarray(0, 8) : out);
    if (kin.major === FUSE_KERNEL_VERSION) this.initDone();
  }

  /** READDIR / READDIRPLUS: as many entries as fit in the kernel's buffer. */
  private readdir(req: FuseRequest, r: ArgReader, plus: boolean): void {
    const fh = r.u64();
    const offset = r.u64();
    const size = r.u32();
    const { ops } = this;
    if (!ops.readdir || (plus && !ops.lookup)) return this.error(req, E.ENOSYS);
    const limit = Math.max(1, Math.floor(size / direntSize(8, plus)));
    this.call(req, async () => {
      const entries = await ops.readdir!(req, req.nodeid, fh, offset, limit);
      const fit: { e: DirEntry; name: Buffer }[] = [];
      let total = 0;
      for (const e of entries) {
        const name = Buffer.from(e.name);
        const n = direntSize(name.length, plus);
        if (total + n > size) break;
        total += n;
        fit.push({ e, name });
      }
      const attrs = plus
        ? await Promise.all(fit.map(({ e }) => (isDots(e.name) ? null : ops.lookup!(req, req.nodeid, e.name).catch(() => null))))
        : [];
      return { fit, attrs, total };
    }, ({ fit, attrs, total }) => {
      const out = Buffer.allocUnsafe(total);
      let pos = 0;
      for (let i = 0; i < fit.length; i++) {
        const attr = plus ? attrs[i] : null;
        if (attr) this.countLookup(attr.ino);
        pos += writeDirent(out, pos, fit[i].e, fit[i].name, plus ? { attr, t: this.timeouts, blksize: this.blksize } : null);
      }
      return out;
    }, ({ attrs }) => {
      for (const a of attrs) if (a) this.forget(a.ino, 1);
    });
  }

  /** Replies carrying fuse_entry_out; each one is a lookup the kernel will FORGET later. */
  private entry(req: FuseRequest, work: (() => Promise<InodeAttr>) | undefined, negative = false): void {
    this.call(req, work, (a) => {
      this.countLookup(a.ino);
      return encodeEntryOut(a, this.timeouts, this.blksize);
    }, (a) => this.forget(a.ino, 1), negative && this.opts.negativeTimeout > 0 ? (err) => {
      if (!isFsError(err, 'ENOENT') && (err as { code?: string } | null)?.code !== 'ENOENT') return null;
      return encodeEntryOut(null, { entry: this.opts.negativeTimeout, attr: 0 }, this.blksize);
    } : undefined);
  }

  private attr(req: FuseRequest, work: (() => Promise<InodeAttr>) | undefined): void {
    this.call(req, work, (a) => encodeAttrOut(a, this.timeouts.attr, this.blksize));
  }

  /** GETXATTR/LISTXATTR: size 0 asks for the length; a too-small buffer is ERANGE. */
  private sized(req: FuseRequest, size: number, work: (() => Promise<Buffer>) | undefined): void {
    this.call(req, work, (v) => {
      if (size === 0) return encodeU32Out(v.length);
      if (v.length > size) throw Object.assign(new Error('buffer too small'), { code: 'ERANGE' });
      return v;
    });
  }

  /**
   * Run one operation and reply with its encoded result or its errno. `undone` is called when the
   * kernel no longer waits for the reply (interrupted), to take back lookup counts. `rescue` may
   * turn an error into a successful payload (negative lookups). `replied` runs after a successful
   * reply reached the kernel.
   */
  private call<T>(
    req: FuseRequest,
    work: (() => Promise<T>) | undefined,
    encode: (value: T) => Payload,
    undone?: (value: T) => void,
    rescue?: (err: unknown) => Payload,
    replied?: (value: T) => void,
  ): void {
    if (!work) return this.error(req, E.ENOSYS);
    let p: Promise<T>;
    try {
      p = work();
    } catch (err) {
      return this.fail(req, err);
    }
    p.then((value) => {
      let payload: Payload;
      try {
        payload = encode(value);
      } catch (err) {
        return this.fail(req, err);
      }
      if (this.send(req.unique, payload)) replied?.(value);
      else if (undone) undone(value);
    }, (err) => {
      const saved = rescue?.(err);
      if (saved) this.send(req.unique, saved);
      else this.fail(req, err);
    });
  }

  private fail(req: FuseRequest, err: unknown): void {
    const errno = err instanceof ProtocolError ? E.EINVAL : toErrno(err);
    if (err instanceof ProtocolError || !(isFsError(err) || typeof (err as { code?: unknown } | null)?.code === 'string')) {
      log.error({ opcode: req.opcode, err }, 'unexpected error in a FUSE request');
    }
    this.error(req, errno);
  }

  private error(req: FuseRequest, errno: number): void {
    if (this.trace) log.trace({ unique: String(req.unique), errno }, 'FUSE error reply');
    this.replied(req.unique, errno);
    this.channel.reply([encodeOutHeader(Size.OUT_HEADER, -errno, req.unique)]);
  }

  private send(unique: bigint, payload: Payload): boolean {
    const parts = payload === null ? [] : Array.isArray(payload) ? payload : [payload];
    let len = Size.OUT_HEADER;
    for (const p of parts) len += p.length;
    if (this.trace) log.trace({ unique: String(unique), len }, 'FUSE reply');
    this.replied(unique);
    return this.channel.reply([encodeOutHeader(len, 0, unique), ...parts]);
  }

  /** Stats: the request `unique` is answered (errno: as an error, counted apart from successes). */
  private replied(unique: bigint, errno = 0): void {
    const s = this.started.get(unique);
    if (!s || !this.opts.stats) return;
    this.started.delete(unique);
    const name = OP_NAMES.get(s.opcode) ?? `op${s.opcode}`;
    this.opts.stats.record(errno ? `${name}(-${errnoName(errno)})` : name, process.hrtime.bigint() - s.t);
  }

  private countLookup(ino: number): void {
    if (ino === FUSE_ROOT_ID) return;
    this.lookups.set(ino, (this.lookups.get(ino) ?? 0) + 1);
  }

  private forget(ino: number, n: number): void {
    if (ino === FUSE_ROOT_ID) return;
    const left = (this.lookups.get(ino) ?? 0) - n;
    if (left > 0) {
      this.lookups.set(ino, left);
      return;
    }
    this.lookups.delete(ino);
    this.ops.forget?.(ino);
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(E).map(([name, n]) => [n, name]));

function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? String(errno);
}

function isDots(name: string): boolean {
  return name === '.' || name === '..';
}

function openFlags(o: Opened): number {
  return (o.keepCache ? FOPEN_KEEP_CACHE : 0) | (o.directIo ? FOPEN_DIRECT_IO : 0) | (o.noFlush ? FOPEN_NOFLUSH : 0);
}

/** fuse_setattr_in (88 bytes) -> only the fields marked valid. */
export function decodeSetattr(r: ArgReader): SetattrIn {
  const valid = r.u32();
  r.skip(4);
  const fh = r.u64();
  const size = r.u64();
  r.skip(8); // lock_owner
  const atime = r.i64();
  const mtime = r.i64();
  const ctime = r.i64();
  const atimensec = r.u32();
  const mtimensec = r.u32();
  const ctimensec = r.u32();
  const mode = r.u32();
  r.skip(4);
  const uid = r.u32();
  const gid = r.u32();
  const set: SetattrIn = {};
  if (valid & Fattr.FH) set.fh = fh;
  if (valid & Fattr.SIZE) set.size = size;
  if (valid & Fattr.MODE) set.mode = mode;
  if (valid & Fattr.UID) set.uid = uid;
  if (valid & Fattr.GID) set.gid = gid;
  if (valid & Fattr.ATIME) set.atime = valid & Fattr.ATIME_NOW ? 'now' : { sec: atime, nsec: atimensec };
  if (valid & Fattr.MTIME) set.mtime = valid & Fattr.MTIME_NOW ? 'now' : { sec: mtime, nsec: mtimensec };
  if (valid & Fattr.CTIME) set.ctime = { sec: ctime, nsec: ctimensec };
  return set;
}
