/**
 * A passthrough file system (a local folder mounted again) on mosaicfs's own kernel binding.
 * Inode-based: the kernel's node id is the source's st_ino (the source root is FUSE_ROOT_ID), and
 * we remember the last path each node id was seen at. Enough for benchmarks, not a general tool
 * (no xattrs, no rename flags). Does the same work per request as fuseNativePassthrough.ts (see
 * localFs.ts). Usage: node dist/bench/passthrough/kernelPassthrough.js SRC MNT
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { FsError } from '../../src/errors.js';
import { FUSE_ROOT_ID, MAX_WRITE } from '../../src/fuse/kernel/abi.js';
import { FuseSession } from '../../src/fuse/kernel/FuseSession.js';
import { mountFuse, unmountFuse } from '../../src/fuse/kernel/mount.js';
import type { FuseOps } from '../../src/fuse/kernel/ops.js';
import type { DirEntry } from '../../src/fuse/kernel/wire.js';
import type { InodeAttr } from '../../src/vfs/types.js';
import { isMain, lstatAttr, lstatIfExists, runForeground, toAttr, UNKNOWN_INO } from './localFs.js';

/** Idle read buffers kept for reuse (more are made while many READs are in flight). */
const READ_BUFFERS_KEPT = 8;

export class KernelPassthrough {
  private readonly paths = new Map<number, string>();
  /** Listings by opendir handle, read once and served to every READDIR of that handle. */
  private readonly dirs = new Map<number, DirEntry[]>();
  private nextDir = 1;
  /** Idle read buffers (MAX_WRITE bytes each, the largest READ), see readBuffer(). */
  private readonly readBuffers: Buffer[] = [];
  private readonly rootIno: number;
  private session: FuseSession | null = null;
  private resolveGone!: () => void;
  readonly gone = new Promise<void>((r) => { this.resolveGone = r; });

  constructor(private readonly src: string, private readonly mnt: string) {
    this.rootIno = Number(lstatAttr(src).ino);
    this.paths.set(FUSE_ROOT_ID, src);
  }

  async mount(): Promise<void> {
    const fd = mountFuse(this.mnt, { fsname: 'passthrough', subtype: 'passthrough', allowOther: false, defaultPermissions: true, readonly: false });
    // No READDIRPLUS: libfuse 2 has none, and our listings carry names only (see localFs.ts).
    this.session = new FuseSession(fd, this.ops(), { entryTimeout: 1, attrTimeout: 1, negativeTimeout: 0, readdirplus: false });
    void this.session.closed.then(() => this.resolveGone());
    this.session.start();
    await this.session.ready;
  }

  async unmount(): Promise<void> {
    await unmountFuse(this.mnt);
    await this.gone;
  }

  private path(ino: number): string {
    const p = this.paths.get(ino);
    if (p === undefined) throw new FsError('ENOENT', `unknown node ${ino}`);
    return p;
  }

  /** lstat `p` and remember it as the path of its node id. */
  private node(p: string): InodeAttr {
    const s = lstatIfExists(p);
    if (s === undefined) throw new FsError('ENOENT', p);
    const ino = Number(s.ino) === this.rootIno ? FUSE_ROOT_ID : Number(s.ino);
    this.paths.set(ino, p);
    return toAttr(s, ino);
  }

  /**
   * A buffer for one READ reply, reused like libfuse reuses its own (fuse-native reads into it):
   * a fresh 1 MiB Buffer per request cost page faults and GC. The session writes the reply in the
   * read's promise reaction, which runs before any setImmediate callback, so the buffer is free then.
   */
  private readBuffer(): Buffer {
    const buf = this.readBuffers.pop() ?? Buffer.allocUnsafeSlow(MAX_WRITE);
    setImmediate(() => { if (this.readBuffers.length < READ_BUFFERS_KEPT) this.readBuffers.push(buf); });
    return buf;
  }

  private child(parent: number, name: string): string {
    return path.join(this.path(parent), name);
  }

  private ops(): FuseOps {
    const at = (ino: number) => this.path(ino);
    const child = (parent: number, name: string) => this.child(parent, name);
    return {
      lookup: async (_r, parent, name) => this.node(child(parent, name)),
      forget: (ino) => { if (ino !== FUSE_ROOT_ID) this.paths.delete(ino); },
      getattr: async (_r, ino) => this.node(at(ino)),
      setattr: async (_r, ino, set) => {
        const p = at(ino);
        if (set.mode !== undefined) fs.chmodSync(p, set.mode & 0o7777);
        if (set.uid !== undefined || set.gid !== undefined) fs.lchownSync(p, set.uid ?? -1, set.gid ?? -1);
        if (set.size !== undefined) (set.fh !== undefined ? fs.ftruncateSync(set.fh, set.size) : fs.truncateSync(p, set.size));
        if (set.atime !== undefined || set.mtime !== undefined) {
          const cur = lstatAttr(p);
          const secs = (t: typeof set.atime, ns: bigint) => (t === undefined ? Number(ns) / 1e9 : t === 'now' ? Date.now() / 1000 : t.sec + t.nsec / 1e9);
          fs.lutimesSync(p, secs(set.atime, cur.atimeNs), secs(set.mtime, cur.mtimeNs));
        }
        return this.node(p);
      },
      readlink: async (_r, ino) => fs.readlinkSync(at(ino)),
      symlink: async (_r, parent, name, target) => { fs.symlinkSync(target, child(parent, name)); return this.node(child(parent, name)); },
      mknod: async (_r, parent, name, mode) => {
        if ((mode & fs.constants.S_IFMT) !== fs.constants.S_IFREG) throw new FsError('ENOSYS', 'only regular files');
        fs.closeSync(fs.openSync(child(parent, name), 'wx', mode & 0o7777));
        return this.node(child(parent, name));
      },
      mkdir: async (_r, parent, name, mode) => { fs.mkdirSync(child(parent, name), mode & 0o7777); return this.node(child(parent, name)); },
      unlink: async (_r, parent, name) => fs.unlinkSync(child(parent, name)),
      rmdir: async (_r, parent, name) => fs.rmdirSync(child(parent, name)),
      rename: async (_r, parent, name, newParent, newName, flags) => {
        if (flags !== 0) throw new FsError('EINVAL', 'rename flags');
        const to = child(newParent, newName);
        fs.renameSync(child(parent, name), to);
        this.node(to);
      },
      link: async (_r, ino, newParent, newName) => { fs.linkSync(at(ino), child(newParent, newName)); return this.node(child(newParent, newName)); },
      // O_DIRECT stays in the kernel: our buffers are not aligned for the source folder.
      open: async (_r, ino, flags) => ({ fh: fs.openSync(at(ino), flags & ~fs.constants.O_DIRECT), directIo: true }),
      create: async (_r, parent, name, mode, flags) => {
        const fh = fs.openSync(child(parent, name), (flags & ~fs.constants.O_DIRECT) | fs.constants.O_CREAT, mode & 0o7777);
        return { fh, attr: this.node(child(parent, name)), directIo: true };
      },
      read: async (_r, _ino, fh, offset, size) => {
        const buf = size <= MAX_WRITE ? this.readBuffer() : Buffer.allocUnsafe(size);
        return buf.subarray(0, fs.readSync(fh, buf, 0, size, offset));
      },
      write: async (_r, _ino, fh, offset, data) => fs.writeSync(fh, data, 0, data.length, offset),
      release: async (_r, _ino, fh) => fs.closeSync(fh),
      fsync: async (_r, _ino, fh, datasync) => (datasync ? fs.fdatasyncSync(fh) : fs.fsyncSync(fh)),
      opendir: async (_r, ino) => {
        const fh = this.nextDir++;
        const names = ['.', '..', ...fs.readdirSync(at(ino))];
        this.dirs.set(fh, names.map((name, i) => ({ name, ino: UNKNOWN_INO, mode: 0, next: i + 1 })));
        return { fh };
      },
      readdir: async (_r, _ino, fh, offset, limit) => (this.dirs.get(fh) ?? []).slice(offset, offset + limit),
      releasedir: async (_r, _ino, fh) => { this.dirs.delete(fh); },
      statfs: async (_r, ino) => {
        const s = fs.statfsSync(at(ino));
        return { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, namemax: 255 };
      },
      access: async (_r, ino, mask) => fs.accessSync(at(ino), mask),
    };
  }
}

if (isMain(import.meta.url)) await runForeground('kernelPassthrough', (src, mnt) => new KernelPassthrough(src, mnt));
