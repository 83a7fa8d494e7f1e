import { constants as fsc } from 'node:fs';
import { FsError } from '../errors.js';
import type { FileData } from '../data/FileData.js';
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
  S_IFSOCK, XATTR_CREATE, XATTR_REPLACE, type InodeAttr, type MetaStore, type NewInode,
} from '../meta/MetaStore.js';
import type { Revalidator } from '../remote/Revalidator.js';
import { log } from '../util/log.js';
import { KeyedMutex } from '../util/mutex.js';
import { compareTime, now } from '../util/time.js';
import { modeAfterWrite, planSetattr } from './attrRules.js';
import type { OpenLeases } from './OpenLeases.js';
import { DirReader } from './DirReader.js';
import { handleModeOf, HandleTable, type FileHandle } from './handles.js';
import { MAX_FILE_SIZE, RELATIME_MAX_AGE_SEC } from './limits.js';
import { checkName, validateSymlinkTarget } from './names.js';
import { asFsError } from './opErrors.js';
import {
  checkDelete, checkDirWrite, checkPermission, checkSearch, isDir, isOwnerOrRoot, isRoot, newInodeOwner, permits, R_OK, W_OK, X_OK,
} from './permissions.js';
import { walkPath } from './resolvePath.js';
import { volumeStatfs } from './statfs.js';
import type { Ctx, InodeAttr as Attr, OpenResult, ReaddirEntry, SetAttr, StatFs, VfsApi } from './types.js';
import {
  CAPABILITY_XATTR, CapabilityKiller, checkXattrAccess, checkXattrName, checkXattrRemove, checkXattrValue, xattrVisible,
} from './xattrPolicy.js';

export interface VfsOptions {
  meta: MetaStore;
  data: FileData;
  /** The volume's block (chunk) size; the FUSE adapter reports it as st_blksize. */
  blockSize: number;
  /** Folder on the disk that holds the blocks: statfs reports that disk's space. Default: '/'. */
  volumeDir?: string;
  /** Every mutating operation fails with EROFS; atimes are not updated; orphans are left alone. */
  readonly?: boolean;
  /** Remote mounts: open files as the server must know them (the two-writers rule). */
  leases?: OpenLeases;
  /**
   * Remote mounts, close-to-open consistency: on every open, cached attributes of the inode are
   * dropped (revalidate) and so are its cached slice lists (FileData.invalidate).
   */
  revalidate?: Revalidator;
}

const O_NOATIME = fsc.O_NOATIME ?? 0;
const RENAME_KNOWN = RENAME_NOREPLACE | RENAME_EXCHANGE;
const FILE_TYPES_ON_DISK = new Set([S_IFREG, S_IFDIR, S_IFLNK]);

/**
 * The VFS: POSIX (Linux) semantics on inodes and handles over a MetaStore and a FileData layer.
 * Permission checks live in permissions.ts / attrRules.ts / xattrPolicy.ts, handles in
 * handles.ts, directory listings in DirReader.ts, path walks in resolvePath.ts.
 *
 * Unlinked-but-open files: the MetaStore keeps an inode with nlink 0; it is purged (metadata and
 * data) when the last handle holding it is released. Orphans left by a crash are purged at
 * construction (see `ready`).
 */
export class Vfs implements VfsApi {
  readonly blockSize: number;
  readonly readonly: boolean;
  /** Settles once the orphans a crash left behind are purged (started by the constructor). */
  readonly ready: Promise<void>;
  private readonly meta: MetaStore;
  private readonly data: FileData;
  private readonly volumeDir: string;
  private readonly handles = new HandleTable();
  /** Serialises size-dependent file changes (appends, truncates, fallocate) per inode. */
  private readonly fileLocks = new KeyedMutex<number>();
  /** Inodes whose nlink reached 0 while a handle held them: purged when the last holder lets go. */
  private readonly heldUnlinked = new Set<number>();
  private readonly leases?: OpenLeases;
  private readonly revalidator?: Revalidator;
  /** Handles that hold a lease: fh -> whether it is a write lease. */
  private readonly leased = new Map<number, boolean>();
  /** Drops security.capability on write/truncate/chown (the kernel leaves it to us: HANDLE_KILLPRIV_V2). */
  private readonly capabilities: CapabilityKiller;

  constructor(opts: VfsOptions) {
    this.meta = opts.meta;
    this.data = opts.data;
    this.blockSize = opts.blockSize;
    this.volumeDir = opts.volumeDir ?? '/';
    this.readonly = opts.readonly ?? false;
    this.leases = opts.leases;
    this.revalidator = opts.revalidate;
    this.capabilities = new CapabilityKiller(opts.meta);
    this.ready = this.readonly ? Promise.resolve() : this.purgeOrphans();
  }

  // ---- names and attributes ----

  lookup(ctx: Ctx, parent: number, name: string): Promise<Attr> {
    return this.op('lookup', async () => {
      const kind = checkName(name);
      const dir = await this.meta.getattr(parent);
      checkSearch(ctx, dir);
      if (kind === 'dot') return dir;
      if (kind === 'dotdot') return this.parentOf(dir);
      const attr = await this.meta.lookup(parent, name);
      if (!attr) throw new FsError('ENOENT', `${JSON.stringify(name)} not found in directory ${parent}`);
      return this.merge(attr);
    });
  }

  resolve(ctx: Ctx, path: string): Promise<Attr> {
    return this.op('resolve', async () => {
      const attr = await walkPath(ctx, path, {
        root: () => this.meta.getattr(ROOT_INO),
        child: (dir, name) => this.meta.lookup(dir, name),
        readlink: (ino) => this.meta.readlink(ino),
      });
      return this.merge(attr);
    });
  }

  getattr(_ctx: Ctx, ino: number): Promise<Attr> {
    return this.op('getattr', () => this.attrOf(ino));
  }

  setattr(ctx: Ctx, ino: number, set: SetAttr, fh?: number): Promise<Attr> {
    return this.op('setattr', async () => {
      this.assertWritable();
      let viaHandle = false;
      if (fh !== undefined && set.size !== undefined) {
        // ftruncate: the handle decides, not the permission bits (EINVAL on a read-only handle, as Linux).
        if (!this.handles.file(fh).writable) throw new FsError('EINVAL', `handle ${fh} is not open for writing`);
        viaHandle = true;
      }
      return this.fileLocks.run(ino, async () => {
        const attr = await this.attrOf(ino);
        const t = now();
        const plan = planSetattr(ctx, attr, set, t, viaHandle);
        let result = attr;
        if (plan.killsCapability) await this.capabilities.kill(ino, t);
        if (plan.size !== undefined) result = await this.data.truncate(ino, plan.size, t);
        const changes = plan.changes;
        // Through the data layer, without waiting for buffered writes: their later commit keeps the
        // times set here (cp -p and tar set mtime after writing, before or right after close).
        if (changes) result = await this.data.setattr(ino, changes.mtime, () => this.meta.setattr(ino, changes));
        return this.merge(result);
      });
    });
  }

  access(ctx: Ctx, ino: number, mask: number): Promise<void> {
    return this.op('access', async () => {
      if ((mask & ~(R_OK | W_OK | X_OK)) !== 0) throw new FsError('EINVAL', `invalid access mask ${mask}`);
      const attr = await this.meta.getattr(ino);
      if ((mask & W_OK) !== 0 && this.readonly && FILE_TYPES_ON_DISK.has(attr.mode & S_IFMT)) {
        throw new FsError('EROFS', 'read-only volume');
      }
      checkPermission(ctx, attr, mask);
    });
  }

  readlink(_ctx: Ctx, ino: number): Promise<string> {
    return this.op('readlink', async () => {
      const attr = await this.meta.getattr(ino);
      if ((attr.mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
      return this.meta.readlink(ino);
    });
  }

  // ---- namespace changes ----

  mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<Attr> {
    return this.op('mknod', async () => {
      let type = mode & S_IFMT;
      if (type === 0) type = S_IFREG;
      if (type === S_IFDIR) throw new FsError('EPERM', 'mknod cannot make directories');
      if (![S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(type)) throw new FsError('EINVAL', `mknod: bad file type ${type.toString(8)}`);
      const device = type === S_IFCHR || type === S_IFBLK;
      if (device && !isRoot(ctx)) throw new FsError('EPERM', 'only root may make device nodes');
      return this.createNode(ctx, parent, name, { mode: type | (mode & 0o7777), rdev: device ? rdev : 0 });
    });
  }

  mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<Attr> {
    // mkdir ignores S_ISUID/S_ISGID in the mode; S_ISGID comes from a setgid parent.
    return this.op('mkdir', () => this.createNode(ctx, parent, name, { mode: S_IFDIR | (mode & 0o1777) }));
  }

  symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<Attr> {
    return this.op('symlink', async () => {
      validateSymlinkTarget(target);
      return this.createNode(ctx, parent, name, { mode: S_IFLNK | 0o777, symlinkTarget: target });
    });
  }

  link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<Attr> {
    return this.op('link', async () => {
      const kind = checkName(newName);
      const target = await this.meta.getattr(ino);
      const dir = await this.meta.getattr(newParent);
      checkSearch(ctx, dir);
      if (kind !== 'normal' || (await this.meta.lookup(newParent, newName))) throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      this.assertWritable();
      if (isDir(target)) throw new FsError('EPERM', 'hard links to directories are not allowed');
      if (target.nlink === 0) throw new FsError('ENOENT', `inode ${ino} has been unlinked`);
      checkDirWrite(ctx, dir);
      return this.merge(await this.meta.link(ino, newParent, newName, now()));
    });
  }

  unlink(ctx: Ctx, parent: number, name: string): Promise<void> {
    return this.op('unlink', async () => {
      const kind = checkName(name);
      this.assertWritable();
      const dir = await this.meta.getattr(parent);
      checkSearch(ctx, dir);
      if (kind !== 'normal') throw new FsError('EISDIR', `cannot unlink ${JSON.stringify(name)}`);
      const victim = await this.child(parent, name);
      checkDelete(ctx, dir, victim);
      if (isDir(victim)) throw new FsError('EISDIR', `${JSON.stringify(name)} is a directory`);
      const res = await this.meta.unlink(parent, name, now());
      if (res.nlink === 0) await this.purgeIfUnused(res.ino);
    });
  }

  rmdir(ctx: Ctx, parent: number, name: string): Promise<void> {
    return this.op('rmdir', async () => {
      const kind = checkName(name);
      this.assertWritable();
      const dir = await this.meta.getattr(parent);
      checkSearch(ctx, dir);
      if (kind === 'dot') throw new FsError('EINVAL', "cannot rmdir '.'");
      if (kind === 'dotdot') throw new FsError('ENOTEMPTY', "cannot rmdir '..'");
      const victim = await this.child(parent, name);
      checkDelete(ctx, dir, victim);
      if (!isDir(victim)) throw new FsError('ENOTDIR', `${JSON.stringify(name)} is not a directory`);
      await this.meta.rmdir(parent, name, now());
    });
  }

  rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    return this.op('rename', async () => {
      if ((flags & ~RENAME_KNOWN) !== 0 || flags === RENAME_KNOWN) throw new FsError('EINVAL', `rename flags ${flags}`);
      const kinds = [checkName(name), checkName(newName)];
      this.assertWritable();
      const srcDir = await this.meta.getattr(parent);
      checkSearch(ctx, srcDir);
      const dstDir = newParent === parent ? srcDir : await this.meta.getattr(newParent);
      checkSearch(ctx, dstDir);
      if (kinds.some((k) => k !== 'normal')) throw new FsError('EBUSY', "cannot rename '.' or '..'");
      const source = await this.child(parent, name);
      const target = await this.meta.lookup(newParent, newName);
      if ((flags & RENAME_NOREPLACE) !== 0 && target) throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      if ((flags & RENAME_EXCHANGE) !== 0 && !target) throw new FsError('ENOENT', `${JSON.stringify(newName)} not found`);
      if (target && target.ino === source.ino) return; // two names of one inode: nothing to do (Linux)
      checkDelete(ctx, srcDir, source);
      if (target) checkDelete(ctx, dstDir, target);
      else checkDirWrite(ctx, dstDir);
      if (newParent !== parent) {
        // A directory changing parent rewrites its '..': needs write permission on itself.
        if (isDir(source)) checkPermission(ctx, source, W_OK);
        if ((flags & RENAME_EXCHANGE) !== 0 && target && isDir(target)) checkPermission(ctx, target, W_OK);
      }
      // Replacing a file with one whose data is still buffered (write a temporary file, rename it
      // over the old one): commit that data first, so a crash never leaves the name empty where
      // the old file was whole (ext4's auto_da_alloc starts that write-back at rename, too).
      if (target && (flags & RENAME_EXCHANGE) === 0 && this.data.pending(source.ino)) await this.data.flush(source.ino);
      const res = await this.meta.rename(parent, name, newParent, newName, flags, now());
      if (res.replaced && res.replaced.nlink === 0) await this.purgeIfUnused(res.replaced.ino);
    });
  }

  // ---- files ----

  open(ctx: Ctx, ino: number, flags: number): Promise<OpenResult> {
    return this.op('open', () => this.openInode(ctx, ino, flags, null));
  }

  create(ctx: Ctx, parent: number, name: string, mode: number, flags: number): Promise<OpenResult> {
    return this.op('create', async () => {
      const kind = checkName(name);
      handleModeOf(flags);
      const dir = await this.meta.getattr(parent);
      checkSearch(ctx, dir);
      const exclusive = (flags & fsc.O_EXCL) !== 0;
      const existing = kind === 'normal' ? await this.meta.lookup(parent, name) : dir;
      if (existing) return this.openExisting(ctx, existing, flags, exclusive);
      this.assertWritable();
      checkDirWrite(ctx, dir);
      const owner = newInodeOwner(ctx, dir, S_IFREG | (mode & 0o7777));
      let attr: InodeAttr;
      try {
        attr = await this.meta.create(parent, name, { ...owner, now: now() });
        this.capabilities.knownWithout(attr.ino);
      } catch (err) {
        const raced = !exclusive && err instanceof FsError && err.code === 'EEXIST' && (await this.meta.lookup(parent, name));
        if (!raced) throw err;
        return this.openExisting(ctx, raced, flags, exclusive);
      }
      return this.openInode(ctx, attr.ino, flags, attr);
    });
  }

  read(_ctx: Ctx, fh: number, offset: number, length: number): Promise<Buffer> {
    return this.op('read', async () => {
      const h = this.handles.file(fh);
      if (!h.readable) throw new FsError('EBADF', `handle ${fh} is not open for reading`);
      if (!Number.isInteger(offset) || offset < 0 || length < 0) throw new FsError('EINVAL', `read at ${offset} of ${length}`);
      const raw = await this.meta.getattr(h.ino);
      const attr = this.merge(raw);
      const buf = length === 0 ? Buffer.alloc(0) : await this.data.read(h.ino, offset, length, attr.size);
      if (!h.noatime && this.atimeStale(raw, attr)) await this.touchAtime(h.ino);
      return buf;
    });
  }

  write(ctx: Ctx, fh: number, offset: number, data: Uint8Array): Promise<number> {
    return this.op('write', async () => {
      this.assertWritable();
      const h = this.handles.file(fh);
      if (!h.writable) throw new FsError('EBADF', `handle ${fh} is not open for writing`);
      if (!Number.isInteger(offset) || offset < 0) throw new FsError('EINVAL', `write at ${offset}`);
      if (data.length === 0) return 0;
      return this.fileLocks.run(h.ino, async () => {
        const attr = await this.meta.getattr(h.ino);
        const at = h.append ? this.merge(attr).size : offset;
        if (at >= MAX_FILE_SIZE) throw new FsError('EFBIG', `write at ${at} beyond the largest file size`);
        const bytes = data.subarray(0, Math.min(data.length, MAX_FILE_SIZE - at));
        const t = now();
        const dropped = modeAfterWrite(ctx, attr.mode, attr.gid);
        if (dropped !== null) await this.meta.setattr(h.ino, { mode: dropped, ctime: t });
        await this.capabilities.kill(h.ino, t);
        await this.data.write(h.ino, at, bytes, t);
        return bytes.length;
      });
    });
  }

  flush(_ctx: Ctx, fh: number): Promise<void> {
    return this.op('flush', () => this.data.flushOnClose(this.handles.file(fh).ino));
  }

  fsync(_ctx: Ctx, fh: number, _datasync: boolean): Promise<void> {
    return this.op('fsync', () => this.data.fsync(this.handles.file(fh).ino));
  }

  release(_ctx: Ctx, fh: number): Promise<void> {
    return this.op('release', async () => {
      const h = this.handles.removeFile(fh);
      const leaseWrite = this.leased.get(fh);
      this.leased.delete(fh);
      try {
        await this.data.flushOnClose(h.ino, false); // nobody hears RELEASE's answer: errors stay for the next fsync/flush
      } finally {
        // After the flush: the data is committed before another client can take the write lease
        // (remote mounts: their data layer's close waits for the commit).
        try {
          if (leaseWrite !== undefined) await this.leases?.release(h.ino, leaseWrite);
        } finally {
          await this.releaseHold(h.ino);
        }
      }
    });
  }

  fallocate(_ctx: Ctx, fh: number, mode: number, offset: number, length: number): Promise<void> {
    return this.op('fallocate', async () => {
      this.assertWritable();
      const h = this.handles.file(fh);
      if (!h.writable) throw new FsError('EBADF', `handle ${fh} is not open for writing`);
      if (mode !== 0) throw new FsError('EOPNOTSUPP', `fallocate mode ${mode}`);
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length <= 0) {
        throw new FsError('EINVAL', `fallocate ${offset}+${length}`);
      }
      const end = offset + length;
      if (end > MAX_FILE_SIZE) throw new FsError('EFBIG', `fallocate to ${end}`);
      // Space is virtual: blocks are content-addressed and written on demand, so nothing can be
      // reserved. Mode 0 only guarantees the size (the new range reads as zeros).
      await this.fileLocks.run(h.ino, async () => {
        const attr = await this.attrOf(h.ino);
        if (end > attr.size) await this.data.truncate(h.ino, end, now());
      });
    });
  }

  // ---- directories ----

  opendir(ctx: Ctx, ino: number): Promise<number> {
    return this.op('opendir', async () => {
      const attr = await this.meta.getattr(ino);
      if (!isDir(attr)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
      checkPermission(ctx, attr, R_OK);
      const parent = await this.parentOf(attr);
      const reader = new DirReader(this.meta, ino, { ino, mode: attr.mode }, { ino: parent.ino, mode: parent.mode });
      return this.handles.addDir({ ino, reader });
    });
  }

  readdir(ctx: Ctx, fh: number, offset: number, limit: number, withAttrs = true): Promise<ReaddirEntry[]> {
    return this.op('readdir', async () => {
      const h = this.handles.dir(fh);
      if (!Number.isInteger(offset) || offset < 0) throw new FsError('EINVAL', `readdir offset ${offset}`);
      const dir = withAttrs || offset === 0 ? await this.meta.getattr(h.ino) : null;
      // Attributes only for a caller who could look the names up (search permission, checked now:
      // it may have changed since opendir); otherwise the entries stay bare, as lookups would fail.
      const attrs = dir !== null && withAttrs && isDir(dir) && permits(ctx, dir, X_OK);
      const entries = await h.reader.read(offset, limit, attrs);
      if (attrs) for (const e of entries) if (e.attr) e.attr = this.merge(e.attr);
      if (dir && offset === 0 && this.atimeStale(dir, dir)) await this.touchAtime(h.ino);
      return entries;
    });
  }

  releasedir(_ctx: Ctx, fh: number): Promise<void> {
    return this.op('releasedir', async () => {
      this.handles.removeDir(fh);
    });
  }

  fsyncdir(_ctx: Ctx, fh: number, _datasync: boolean): Promise<void> {
    return this.op('fsyncdir', async () => {
      this.handles.dir(fh);
      await this.meta.sync();
    });
  }

  // ---- volume and xattrs ----

  statfs(_ctx: Ctx): Promise<StatFs> {
    return this.op('statfs', () => volumeStatfs(this.meta, this.volumeDir));
  }

  setxattr(ctx: Ctx, ino: number, name: string, value: Buffer, flags: number): Promise<void> {
    return this.op('setxattr', async () => {
      this.assertWritable();
      checkXattrName(name);
      checkXattrValue(value);
      if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) {
        throw new FsError('EINVAL', `setxattr flags ${flags}`);
      }
      checkXattrAccess(ctx, await this.meta.getattr(ino), name, true);
      await this.meta.setxattr(ino, name, value, flags, now());
      if (name === CAPABILITY_XATTR) this.capabilities.forget(ino);
    });
  }

  getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer> {
    return this.op('getxattr', async () => {
      checkXattrName(name);
      checkXattrAccess(ctx, await this.meta.getattr(ino), name, false);
      return this.meta.getxattr(ino, name);
    });
  }

  listxattr(ctx: Ctx, ino: number): Promise<string[]> {
    return this.op('listxattr', async () => {
      await this.meta.getattr(ino);
      return (await this.meta.listxattr(ino)).filter((name) => xattrVisible(ctx, name));
    });
  }

  removexattr(ctx: Ctx, ino: number, name: string): Promise<void> {
    return this.op('removexattr', async () => {
      this.assertWritable();
      checkXattrName(name);
      checkXattrRemove(ctx, await this.meta.getattr(ino), name);
      await this.meta.removexattr(ino, name, now());
    });
  }

  shutdown(): Promise<void> {
    return this.op('shutdown', async () => {
      await this.ready;
      await this.data.flushAll();
      await this.meta.sync();
    });
  }

  // ---- internals ----

  private async op<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asFsError(name, err);
    }
  }

  private assertWritable(): void {
    if (this.readonly) throw new FsError('EROFS', 'read-only volume');
  }

  /** Attributes as a stat should see them: buffered writes change size and times before they commit. */
  private merge(attr: InodeAttr): InodeAttr {
    if ((attr.mode & S_IFMT) !== S_IFREG) return attr;
    const p = this.data.pending(attr.ino);
    if (!p) return attr;
    // allocated: the larger of committed and buffered bytes (not their sum, which double-counts
    // overwrites), so st_blocks never shrinks while a write is in flight.
    const merged = { ...attr, size: p.size, allocated: Math.max(attr.allocated, p.bytes) };
    // p.mtime is the last buffered write's time, or an mtime set explicitly after it (setattr stamps
    // the buffered data): the newer of the two wins, even an mtime set into the future (as on Linux).
    merged.mtime = p.mtime;
    if (compareTime(p.changed, attr.ctime) > 0) merged.ctime = p.changed;
    return merged;
  }

  private async attrOf(ino: number): Promise<InodeAttr> {
    return this.merge(await this.meta.getattr(ino));
  }

  private async child(dir: number, name: string): Promise<InodeAttr> {
    const attr = await this.meta.lookup(dir, name);
    if (!attr) throw new FsError('ENOENT', `${JSON.stringify(name)} not found in directory ${dir}`);
    return attr;
  }

  /** The parent of a directory (the root is its own parent), found through its path. */
  private async parentOf(dir: InodeAttr): Promise<InodeAttr> {
    if (dir.ino === ROOT_INO) return dir;
    const path = await this.meta.pathOf(dir.ino);
    if (path === null) throw new FsError('ENOENT', `directory ${dir.ino} has been removed`);
    const names = path.split('/').filter((c) => c !== '');
    let parent = await this.meta.getattr(ROOT_INO);
    for (const name of names.slice(0, -1)) parent = await this.child(parent.ino, name);
    return parent;
  }

  /** mknod/mkdir/symlink: checks in Linux order (search, EEXIST, EROFS, write), owner rules, create. */
  private async createNode(ctx: Ctx, parent: number, name: string, node: Pick<NewInode, 'mode' | 'rdev' | 'symlinkTarget'>): Promise<InodeAttr> {
    const kind = checkName(name);
    const dir = await this.meta.getattr(parent);
    checkSearch(ctx, dir);
    if (kind !== 'normal' || (await this.meta.lookup(parent, name))) throw new FsError('EEXIST', `${JSON.stringify(name)} exists`);
    this.assertWritable();
    checkDirWrite(ctx, dir);
    const owner = newInodeOwner(ctx, dir, node.mode);
    return this.meta.create(parent, name, { ...node, ...owner, now: now() });
  }

  private async openExisting(ctx: Ctx, attr: InodeAttr, flags: number, exclusive: boolean): Promise<OpenResult> {
    if (exclusive) throw new FsError('EEXIST', `inode ${attr.ino} exists`);
    if (isDir(attr)) throw new FsError('EISDIR', `inode ${attr.ino} is a directory`);
    return this.openInode(ctx, attr.ino, flags, null);
  }

  /**
   * Open an inode: access checks (skipped for a file this call just created: `created` is its
   * attributes, fresh from the MetaStore, with nothing buffered yet), O_TRUNC, a handle.
   * The inode is held before anything is awaited, so an unlink racing the open keeps it alive.
   */
  private async openInode(ctx: Ctx, ino: number, flags: number, created: InodeAttr | null): Promise<OpenResult> {
    const { readable, writable } = handleModeOf(flags);
    const trunc = (flags & fsc.O_TRUNC) !== 0;
    const leaseWrite = writable || trunc;
    let leaseTaken = false;
    this.handles.hold(ino);
    try {
      if (!created && this.revalidator) {
        this.revalidator.revalidate(ino);
        this.data.invalidate(ino);
        this.capabilities.forget(ino);
      }
      let attr = created ?? (await this.attrOf(ino));
      const type = attr.mode & S_IFMT;
      if (type === S_IFLNK) throw new FsError('ELOOP', `inode ${ino} is a symlink`);
      if (type === S_IFDIR && (writable || trunc)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
      if (!created) {
        if ((writable || trunc) && this.readonly && FILE_TYPES_ON_DISK.has(type)) throw new FsError('EROFS', 'read-only volume');
        checkPermission(ctx, attr, (readable ? R_OK : 0) | (writable || trunc ? W_OK : 0));
      }
      if ((flags & O_NOATIME) !== 0 && !isOwnerOrRoot(ctx, attr)) throw new FsError('EPERM', 'O_NOATIME: not the owner');
      if (this.leases) {
        await this.leases.acquire(ino, leaseWrite);
        leaseTaken = true;
      }
      if (trunc && type === S_IFREG && !created) attr = await this.truncateOnOpen(ctx, attr);
      const handle: FileHandle = {
        ino, flags, readable, writable,
        append: (flags & fsc.O_APPEND) !== 0,
        noatime: (flags & O_NOATIME) !== 0,
      };
      const fh = this.handles.addFile(handle);
      if (leaseTaken) this.leased.set(fh, leaseWrite);
      return { fh, attr, noFlush: !this.data.closeWaitsForUpload };
    } catch (err) {
      if (leaseTaken) await this.leases?.release(ino, leaseWrite).catch(() => {});
      await this.releaseHold(ino);
      throw err;
    }
  }

  private truncateOnOpen(ctx: Ctx, attr: InodeAttr): Promise<InodeAttr> {
    return this.fileLocks.run(attr.ino, async () => {
      const t = now();
      const plan = planSetattr(ctx, attr, { size: 0 }, t, true);
      await this.capabilities.kill(attr.ino, t);
      let result = await this.data.truncate(attr.ino, 0, t);
      if (plan.changes) result = await this.meta.setattr(attr.ino, plan.changes);
      return this.merge(result);
    });
  }

  /** relatime: atime needs refreshing when it is not newer than mtime or ctime, or older than a day. */
  private atimeStale(raw: InodeAttr, merged: InodeAttr): boolean {
    if (this.readonly) return false;
    return compareTime(raw.atime, merged.mtime) <= 0 || compareTime(raw.atime, merged.ctime) <= 0
      || now().sec - raw.atime.sec >= RELATIME_MAX_AGE_SEC;
  }

  /**
   * Set atime to now. ctime must not change (an atime update is not a status change), so it is
   * re-read right before the update: a data commit may have moved it meanwhile. A failure here must
   * not fail the read: it is logged.
   */
  private async touchAtime(ino: number): Promise<void> {
    try {
      const { ctime } = await this.meta.getattr(ino);
      await this.meta.setattr(ino, { atime: now(), ctime });
    } catch (err) {
      log.warn({ err, ino }, 'atime update failed');
    }
  }

  /** Drop one holder of an inode; the last one out purges it if it was unlinked while held. */
  private async releaseHold(ino: number): Promise<void> {
    if (this.handles.unhold(ino) === 0 && this.heldUnlinked.delete(ino)) await this.purgeIfUnused(ino);
  }

  /**
   * Purge an inode with nlink 0 that no handle holds (metadata, slices, buffered data). A held one
   * is remembered, so its last releaseHold() purges it (and other releases need no metadata read).
   */
  private async purgeIfUnused(ino: number): Promise<void> {
    if (this.handles.isHeld(ino)) {
      this.heldUnlinked.add(ino);
      return;
    }
    let attr: InodeAttr;
    try {
      attr = await this.meta.getattr(ino);
    } catch (err) {
      if (err instanceof FsError && err.code === 'ENOENT') return;
      throw err;
    }
    if (attr.nlink !== 0) return;
    if (this.handles.isHeld(ino)) {
      this.heldUnlinked.add(ino);
      return;
    }
    // Uploads still under way (a closed file's write-back) commit first, so the purge frees their blocks.
    await this.data.discard(ino);
    if (this.handles.isHeld(ino)) {
      this.heldUnlinked.add(ino);
      return;
    }
    try {
      await this.meta.purgeInode(ino);
    } catch (err) {
      if (!(err instanceof FsError && err.code === 'ENOENT')) throw err;
    }
    this.data.drop(ino);
  }

  private async purgeOrphans(): Promise<void> {
    try {
      const orphans = await this.meta.listOrphans();
      for (const ino of orphans) await this.purgeIfUnused(ino);
      if (orphans.length > 0) log.info({ count: orphans.length }, 'purged orphan inodes left by a crash');
    } catch (err) {
      log.error({ err }, 'purging orphan inodes failed');
    }
  }
}
