import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FsError, VolumeError } from '../../errors.js';
import { BLOCK_ID_RE } from '../../block/BlockStore.js';
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK, XATTR_CREATE, XATTR_REPLACE,
  type AttrChanges, type BlockRecord, type ChunkWrite, type DirEntry, type DirPage, type InodeAttr, type MetaStats,
  type MetaStore, type NewBlock, type NewInode, type RenameResult, type Slice, type Timespec,
  type UnlinkResult,
} from '../MetaStore.js';
import { LINK_MAX, validateName, validateSymlinkTarget } from '../names.js';
import { checkSqliteStore } from './check.js';
import { GroupCommit } from './groupCommit.js';
import { checkTimespec, INODE_COLUMNS, inodeRow, isDirMode, isRegMode, toAttr, type BlockRow, type InodeRow } from './rows.js';
import { migrate } from './schema.js';
import { markSessionClosed, markSessionOpen } from './sessionMark.js';
import { SliceTable } from './sliceTable.js';
import { prepareStatements, type Statements } from './statements.js';

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** Settings this engine owns (other keys are free for callers). */
export const SETTING_CHUNK_SIZE = 'chunk_size';
/** Default group-commit window (see SqliteMetaStoreOptions.commitDelayMs). */
export const DEFAULT_COMMIT_DELAY_MS = 5;
/** Overrides the default window where the caller passes none (benchmarks, operators). */
export const COMMIT_DELAY_ENV = 'MOSAICFS_META_COMMIT_DELAY_MS';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const FILE_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);

export interface SqliteMetaStoreOptions {
  /**
   * Bytes per chunk (see MetaStore.Slice). Recorded when the store is created; opening it later
   * with a different value throws VolumeError. Absent: the recorded value, or DEFAULT_CHUNK_SIZE.
   */
  chunkSize?: number;
  /** Most hard links (and subdirectories) an inode may have; default LINK_MAX (65000, as ext4). Tests lower it. */
  linkMax?: number;
  /**
   * Group commit: operations join one open transaction that is committed at most this many ms after
   * its first operation, or at once by sync(), close(), unreferencedBlocks() and a normal process exit
   * (see GroupCommit). A crash of the process loses at most the operations of the last window that
   * no sync() covered. 0: one transaction per operation. Default: $MOSAICFS_META_COMMIT_DELAY_MS if
   * set, else DEFAULT_COMMIT_DELAY_MS.
   */
  commitDelayMs?: number;
}

/**
 * MetaStore on SQLite (better-sqlite3). WAL journal with synchronous=NORMAL: every commit survives a
 * process crash; sync() commits at once and adds durability against power loss. The work is
 * synchronous; methods are async only to honour the engine-neutral interface. Each namespace change
 * is atomic (a SAVEPOINT inside a group-committed transaction, or its own IMMEDIATE transaction).
 */
export class SqliteMetaStore implements MetaStore {
  readonly file: string;
  readonly chunkSize: number;
  private readonly db: Database.Database;
  private readonly s: Statements;
  private readonly slices: SliceTable;
  private readonly group: GroupCommit;

  static open(file: string, opts: SqliteMetaStoreOptions = {}): SqliteMetaStore {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 10000');
      db.pragma('cache_size = -32768');
      migrate(db);
      const chunkSize = settleChunkSize(db, opts.chunkSize);
      markSessionOpen(db);
      return new SqliteMetaStore(file, db, chunkSize, opts.linkMax ?? LINK_MAX, opts.commitDelayMs ?? commitDelayFromEnv());
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(
    file: string, db: Database.Database, chunkSize: number, readonly linkMax: number, commitDelayMs: number,
  ) {
    this.file = file;
    this.db = db;
    this.chunkSize = chunkSize;
    this.s = prepareStatements(db);
    this.slices = new SliceTable(this.s, chunkSize);
    this.group = new GroupCommit(db, commitDelayMs);
  }

  private write<T>(fn: () => T): T {
    return this.group.run(fn);
  }

  // ---- lifecycle and settings ----

  async init(root: { mode: number; uid: number; gid: number; now: Timespec }): Promise<void> {
    checkTimespec(root.now, 'now');
    this.write(() => {
      if (this.s.getInode.get(ROOT_INO)) return;
      this.s.insertInode.run({
        ino: ROOT_INO, mode: S_IFDIR | (root.mode & 0o7777), uid: root.uid, gid: root.gid,
        size: 0, nlink: 2, rdev: 0, s: root.now.sec, ns: root.now.nsec,
      });
      this.s.closureSelf.run({ dir: ROOT_INO });
    });
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    try {
      this.group.run(() => markSessionClosed(this.db));
      this.group.commit();
    } finally {
      this.group.forget();
      this.db.close();
    }
  }

  /**
   * Commits the open group, then power-loss durability: a PASSIVE checkpoint (SQLite fsyncs the WAL before copying frames and the
   * database file after), then an explicit fsync of the -wal file (covers frames a concurrent reader
   * kept from being checkpointed) and of the folder (new -wal/-shm entries). The database file itself
   * is not opened here: closing a second descriptor would drop SQLite's POSIX locks on it.
   */
  async sync(): Promise<void> {
    this.group.commit();
    this.db.pragma('wal_checkpoint(PASSIVE)');
    fsyncPath(`${this.file}-wal`, 'r');
    fsyncPath(path.dirname(path.resolve(this.file)), 'r');
  }

  async getSetting(key: string): Promise<string | null> {
    const row = this.s.getSetting.get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.write(() => this.s.setSetting.run(key, value));
  }

  // ---- lookups ----

  async getattr(ino: number): Promise<InodeAttr> {
    return toAttr(this.inode(ino));
  }

  async lookup(parent: number, name: string): Promise<InodeAttr | null> {
    validateName(name);
    const row = inodeRow(this.s.lookup.get(parent, name));
    if (row) return toAttr(row);
    this.assertDir(parent);
    return null;
  }

  async pathOf(ino: number): Promise<string | null> {
    this.assertInode(ino);
    const names: string[] = [];
    for (let cur = ino; cur !== ROOT_INO; ) {
      const e = this.s.oneEntryOf.get(cur) as { parent: number; name: string } | undefined;
      if (!e) {
        if (cur === ino) return null;
        throw new FsError('EIO', `directory ${cur} has no entry: metadata is inconsistent`);
      }
      names.push(e.name);
      if (names.length > 1_000_000) throw new FsError('EIO', `directory cycle above inode ${ino}`);
      cur = e.parent;
    }
    return '/' + names.reverse().join('/');
  }

  async isAncestor(ancestor: number, ino: number): Promise<boolean> {
    if (ancestor === ino) return this.s.getInode.get(ino) !== undefined;
    if (this.s.closureHas.get(ancestor, ino)) return true;
    return this.s.closureViaParents.get(ino, ancestor) !== undefined;
  }

  async readlink(ino: number): Promise<string> {
    const row = this.inode(ino);
    if ((row.mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
    const link = this.s.getSymlink.get(ino) as { target: string } | undefined;
    if (!link) throw new FsError('EIO', `symlink ${ino} has no target`);
    return link.target;
  }

  async readdir(dir: number, cursor: string | null, limit: number, withAttrs = false): Promise<DirPage> {
    if (!Number.isInteger(limit) || limit < 1) throw new FsError('EINVAL', `readdir limit ${limit}`);
    const after = cursor === null ? '' : decodeCursor(cursor);
    this.assertDir(dir);
    const entries = withAttrs
      ? (this.s.readdirAttrs.all(dir, after, limit + 1) as unknown[][]).map(entryWithAttr)
      : (this.s.readdir.all(dir, after, limit + 1) as DirEntry[]);
    const more = entries.length > limit;
    if (more) entries.pop();
    return { entries, next: more ? encodeCursor(entries[entries.length - 1].name) : null };
  }

  // ---- namespace changes ----

  async create(parent: number, name: string, node: NewInode): Promise<InodeAttr> {
    validateName(name);
    checkTimespec(node.now, 'now');
    const type = node.mode & S_IFMT;
    if (!FILE_TYPES.has(type)) throw new FsError('EINVAL', `unknown file type in mode ${node.mode.toString(8)}`);
    const target = type === S_IFLNK ? node.symlinkTarget : undefined;
    if (type === S_IFLNK) validateSymlinkTarget(target);
    const isDir = type === S_IFDIR;
    return this.write(() => {
      const p = this.dirBrief(parent);
      if (this.s.entryExists.get(parent, name)) throw new FsError('EEXIST', `${JSON.stringify(name)} exists`);
      if (isDir && p.nlink >= this.linkMax) throw new FsError('EMLINK', `directory ${parent} has too many subdirectories`);
      const { now } = node;
      const row = {
        ino: null as number | null, mode: node.mode, uid: node.uid, gid: node.gid,
        size: target === undefined ? 0 : Buffer.byteLength(target, 'utf8'),
        nlink: isDir ? 2 : 1, rdev: node.rdev ?? 0, s: now.sec, ns: now.nsec,
      };
      const ino = Number(this.s.insertInode.run(row).lastInsertRowid);
      this.s.insertEntry.run(parent, name, ino);
      if (isDir) {
        this.s.closureSelf.run({ dir: ino });
        this.s.closureInherit.run({ dir: ino, parent });
      }
      if (target !== undefined) this.s.insertSymlink.run(ino, target);
      this.s.touchDir.run({ delta: isDir ? 1 : 0, s: now.sec, ns: now.nsec, ino: parent });
      return {
        ino, mode: row.mode, uid: row.uid, gid: row.gid, size: row.size, nlink: row.nlink, rdev: row.rdev,
        allocated: 0, atime: { ...now }, mtime: { ...now }, ctime: { ...now }, crtime: { ...now },
      };
    });
  }

  async link(ino: number, newParent: number, newName: string, now: Timespec): Promise<InodeAttr> {
    validateName(newName);
    checkTimespec(now, 'now');
    return this.write(() => {
      const node = this.inode(ino);
      if (node.nlink === 0) throw new FsError('ENOENT', `inode ${ino} has been unlinked`);
      this.assertDir(newParent);
      if (this.s.entryExists.get(newParent, newName)) throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      if (isDirMode(node.mode)) throw new FsError('EPERM', 'hard links to directories are not allowed');
      if (node.nlink >= this.linkMax) throw new FsError('EMLINK', `inode ${ino} has ${node.nlink} links`);
      this.s.insertEntry.run(newParent, newName, ino);
      this.s.bumpNlinkCtime.run(1, now.sec, now.nsec, ino);
      this.s.touchDir.run({ delta: 0, s: now.sec, ns: now.nsec, ino: newParent });
      return toAttr({ ...node, nlink: node.nlink + 1, ctime_s: now.sec, ctime_ns: now.nsec });
    });
  }

  async unlink(parent: number, name: string, now: Timespec): Promise<UnlinkResult> {
    validateName(name);
    checkTimespec(now, 'now');
    return this.write(() => {
      const child = this.childBrief(parent, name);
      if (isDirMode(child.mode)) throw new FsError('EISDIR', `${JSON.stringify(name)} is a directory`);
      this.s.deleteEntry.run(parent, name);
      this.s.bumpNlinkCtime.run(-1, now.sec, now.nsec, child.ino);
      this.s.touchDir.run({ delta: 0, s: now.sec, ns: now.nsec, ino: parent });
      return { ino: child.ino, nlink: child.nlink - 1 };
    });
  }

  async rmdir(parent: number, name: string, now: Timespec): Promise<void> {
    validateName(name);
    checkTimespec(now, 'now');
    this.write(() => {
      const child = this.childBrief(parent, name);
      if (!isDirMode(child.mode)) throw new FsError('ENOTDIR', `${JSON.stringify(name)} is not a directory`);
      if (child.ino === ROOT_INO) throw new FsError('EBUSY', 'cannot remove the root');
      if (this.s.hasChildren.get(child.ino)) throw new FsError('ENOTEMPTY', `${JSON.stringify(name)} is not empty`);
      this.s.deleteEntry.run(parent, name);
      this.freeDir(child.ino);
      this.s.touchDir.run({ delta: -1, s: now.sec, ns: now.nsec, ino: parent });
    });
  }

  async rename(
    parent: number, name: string, newParent: number, newName: string, flags: number, now: Timespec,
  ): Promise<RenameResult> {
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0 || flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
      throw new FsError('EINVAL', `rename flags ${flags}`);
    }
    validateName(name);
    validateName(newName);
    checkTimespec(now, 'now');
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    return this.write(() => {
      const parentRow = this.dir(parent);
      const newParentRow = newParent === parent ? parentRow : this.dir(newParent);
      const src = inodeRow(this.s.lookup.get(parent, name));
      if (!src) throw new FsError('ENOENT', `${JSON.stringify(name)} does not exist`);
      const dst = inodeRow(this.s.lookup.get(newParent, newName));
      if (dst && (flags & RENAME_NOREPLACE)) throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      if (!dst && exchange) throw new FsError('ENOENT', `${JSON.stringify(newName)} does not exist`);
      const srcIsDir = isDirMode(src.mode);
      const dstIsDir = dst !== undefined && isDirMode(dst.mode);
      if (srcIsDir && this.s.closureHas.get(src.ino, newParent)) {
        throw new FsError('EINVAL', 'cannot move a directory into itself');
      }
      if (dst && dstIsDir && this.s.closureHas.get(dst.ino, parent)) {
        throw new FsError(exchange ? 'EINVAL' : 'ENOTEMPTY', 'target is an ancestor of the source');
      }
      if (dst && dst.ino === src.ino) return {};

      if (dst && !exchange) {
        if (srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', `${JSON.stringify(newName)} is not a directory`);
        if (!srcIsDir && dstIsDir) throw new FsError('EISDIR', `${JSON.stringify(newName)} is a directory`);
        if (dstIsDir && this.s.hasChildren.get(dst.ino)) {
          throw new FsError('ENOTEMPTY', `${JSON.stringify(newName)} is not empty`);
        }
      }

      // Subdirectory count changes of the two parents (their nlink).
      const delta = new Map<number, number>([[parent, 0], [newParent, 0]]);
      const add = (dir: number, n: number) => delta.set(dir, delta.get(dir)! + n);
      const crossing = parent !== newParent;
      if (crossing && srcIsDir) { add(parent, -1); add(newParent, 1); }
      if (exchange && crossing && dstIsDir) { add(newParent, -1); add(parent, 1); }
      if (!exchange && dstIsDir) add(newParent, -1);
      for (const [dir, d] of delta) {
        const row = dir === parent ? parentRow : newParentRow;
        if (d > 0 && row.nlink + d > this.linkMax) throw new FsError('EMLINK', `directory ${dir} has too many subdirectories`);
      }

      let result: RenameResult = {};
      if (exchange) {
        this.s.setEntryIno.run(dst!.ino, parent, name);
        this.s.setEntryIno.run(src.ino, newParent, newName);
        if (crossing && srcIsDir) this.moveSubtree(src.ino, newParent);
        if (crossing && dstIsDir) this.moveSubtree(dst!.ino, parent);
        this.s.setCtime.run(now.sec, now.nsec, dst!.ino);
      } else {
        if (dst) {
          this.s.deleteEntry.run(newParent, newName);
          if (dstIsDir) {
            this.freeDir(dst.ino);
            result = { replaced: { ino: dst.ino, nlink: 0, isDir: true } };
          } else {
            this.s.bumpNlinkCtime.run(-1, now.sec, now.nsec, dst.ino);
            result = { replaced: { ino: dst.ino, nlink: dst.nlink - 1, isDir: false } };
          }
        }
        this.s.moveEntry.run(newParent, newName, parent, name);
        if (crossing && srcIsDir) this.moveSubtree(src.ino, newParent);
      }
      this.s.setCtime.run(now.sec, now.nsec, src.ino);
      for (const [dir, d] of delta) this.s.touchDir.run({ delta: d, s: now.sec, ns: now.nsec, ino: dir });
      return result;
    });
  }

  async setattr(ino: number, changes: AttrChanges): Promise<InodeAttr> {
    checkTimespec(changes.ctime, 'ctime');
    if (changes.atime) checkTimespec(changes.atime, 'atime');
    if (changes.mtime) checkTimespec(changes.mtime, 'mtime');
    return this.write(() => {
      const row = { ...this.inode(ino) };
      if (changes.mode !== undefined) row.mode = (row.mode & S_IFMT) | (changes.mode & ~S_IFMT);
      if (changes.uid !== undefined) row.uid = changes.uid;
      if (changes.gid !== undefined) row.gid = changes.gid;
      if (changes.atime) { row.atime_s = changes.atime.sec; row.atime_ns = changes.atime.nsec; }
      if (changes.mtime) { row.mtime_s = changes.mtime.sec; row.mtime_ns = changes.mtime.nsec; }
      row.ctime_s = changes.ctime.sec;
      row.ctime_ns = changes.ctime.nsec;
      this.s.updateAttr.run(row);
      return toAttr(row);
    });
  }

  async truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr> {
    if (!Number.isSafeInteger(size) || size < 0) throw new FsError('EINVAL', `size ${size}`);
    checkTimespec(now, 'now');
    return this.write(() => {
      const row = this.inode(ino);
      if (isDirMode(row.mode)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
      if (!isRegMode(row.mode)) throw new FsError('EINVAL', `inode ${ino} is not a regular file`);
      // Also when growing: bytes past the old end must read back as a hole, never as stale data.
      const alloc = row.alloc + this.slices.cutFrom(ino, Math.min(size, row.size));
      this.s.setSizeTimes.run({ size, s: now.sec, ns: now.nsec, ino });
      return toAttr({ ...row, size, alloc, mtime_s: now.sec, mtime_ns: now.nsec, ctime_s: now.sec, ctime_ns: now.nsec });
    });
  }

  async listOrphans(): Promise<number[]> {
    return (this.s.orphans.all() as Array<{ ino: number }>).map((r) => r.ino);
  }

  /** Idempotent: an inode that is already gone is not an error. EINVAL if it still has links. */
  async purgeInode(ino: number): Promise<void> {
    this.write(() => {
      const row = this.s.getModeNlink.get(ino) as [mode: number, nlink: number] | undefined;
      if (!row) return;
      const [mode, nlink] = row;
      if (nlink > 0) throw new FsError('EINVAL', `inode ${ino} still has ${nlink} links`);
      const type = mode & S_IFMT;
      if (type === S_IFREG) this.slices.dropAll(ino);
      else if (type === S_IFLNK) this.s.deleteSymlink.run(ino);
      else if (type === S_IFDIR) this.s.closureDeleteDir.run(ino);
      this.s.deleteXattrsOf.run(ino);
      this.s.deleteInode.run(ino);
    });
  }

  // ---- xattrs ----

  async getxattr(ino: number, name: string): Promise<Buffer> {
    checkXattrName(name);
    this.assertInode(ino);
    const row = this.s.getXattr.get(ino, name) as { value: Buffer } | undefined;
    if (!row) throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
    return row.value;
  }

  async setxattr(ino: number, name: string, value: Buffer, flags: number, now: Timespec): Promise<void> {
    checkXattrName(name);
    checkTimespec(now, 'now');
    if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) {
      throw new FsError('EINVAL', `xattr flags ${flags}`);
    }
    if (value.length > XATTR_SIZE_MAX) throw new FsError('E2BIG', `xattr value of ${value.length} bytes`);
    this.write(() => {
      this.assertInode(ino);
      const exists = this.s.getXattr.get(ino, name) !== undefined;
      if (exists && (flags & XATTR_CREATE)) throw new FsError('EEXIST', `xattr ${JSON.stringify(name)} exists`);
      if (!exists && (flags & XATTR_REPLACE)) throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
      this.s.putXattr.run(ino, name, Buffer.from(value));
      this.s.setCtime.run(now.sec, now.nsec, ino);
    });
  }

  async listxattr(ino: number): Promise<string[]> {
    this.assertInode(ino);
    return (this.s.listXattrs.all(ino) as Array<{ name: string }>).map((r) => r.name);
  }

  async removexattr(ino: number, name: string, now: Timespec): Promise<void> {
    checkXattrName(name);
    checkTimespec(now, 'now');
    this.write(() => {
      this.assertInode(ino);
      if (this.s.deleteXattr.run(ino, name).changes === 0) {
        throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
      }
      this.s.setCtime.run(now.sec, now.nsec, ino);
    });
  }

  // ---- file contents: slices and blocks ----

  async readChunks(ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    this.assertInode(ino);
    return this.slices.read(ino, first, last);
  }

  async commitSlices(
    ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime: Timespec = mtime,
  ): Promise<InodeAttr> {
    if (!Number.isSafeInteger(minSize) || minSize < 0) throw new FsError('EINVAL', `size ${minSize}`);
    checkTimespec(mtime, 'mtime');
    checkTimespec(ctime, 'ctime');
    for (const w of writes) this.slices.validate(w);
    return this.write(() => {
      const row = this.inode(ino);
      if (!isRegMode(row.mode)) throw new FsError(isDirMode(row.mode) ? 'EISDIR' : 'EINVAL', `inode ${ino} is not a regular file`);
      this.slices.recordBlocks(newBlocks);
      let added = 0;
      for (const w of writes) added += this.slices.appendLeavingAlloc(ino, w);
      const size = Math.max(row.size, minSize);
      this.s.setSizeAllocTimes.run({ size, alloc: added, s: mtime.sec, ns: mtime.nsec, cs: ctime.sec, cns: ctime.nsec, ino });
      const alloc = row.alloc + added;
      return toAttr({ ...row, size, alloc, mtime_s: mtime.sec, mtime_ns: mtime.nsec, ctime_s: ctime.sec, ctime_ns: ctime.nsec });
    });
  }

  async replaceChunk(
    ino: number, chunk: number, expectedCount: number, slices: Slice[], newBlocks: NewBlock[],
  ): Promise<boolean> {
    this.slices.validate({ chunk, slices });
    return this.write(() => {
      if (!this.s.getInode.get(ino)) return false;
      if (this.slices.countChunk(ino, chunk) !== expectedCount) return false;
      this.slices.recordBlocks(newBlocks);
      this.slices.replace(ino, chunk, slices);
      return true;
    });
  }

  async getBlock(id: string): Promise<BlockRecord | null> {
    const row = this.s.getBlock.get(id) as BlockRow | undefined;
    return row ? toBlockRecord(row) : null;
  }

  async unreferencedBlocks(olderThanMs: number, limit: number): Promise<string[]> {
    // The GC deletes what this returns: refs that reached 0 must be committed first, or a crash
    // could bring back a reference to a block that is gone.
    this.group.commit();
    return (this.s.unreferencedBlocks.all(olderThanMs, limit) as Array<{ id: string }>).map((r) => r.id);
  }

  async forgetBlocks(ids: string[]): Promise<string[]> {
    return this.write(() => ids.filter((id) => this.s.forgetBlock.run(id).changes > 0));
  }

  async listBlocks(cursor: string | null, limit: number): Promise<{ blocks: BlockRecord[]; next: string | null }> {
    if (!Number.isInteger(limit) || limit < 1) throw new FsError('EINVAL', `listBlocks limit ${limit}`);
    if (cursor !== null && !BLOCK_ID_RE.test(cursor)) throw new FsError('EINVAL', 'bad block cursor');
    const rows = this.s.listBlocks.all(cursor ?? '', limit + 1) as BlockRow[];
    const more = rows.length > limit;
    if (more) rows.pop();
    return { blocks: rows.map(toBlockRecord), next: more ? rows[rows.length - 1].id : null };
  }

  async inodesUsingBlock(id: string): Promise<number[]> {
    return (this.s.inodesUsingBlock.all(id) as Array<{ ino: number }>).map((r) => r.ino);
  }

  async stats(): Promise<MetaStats> {
    const i = this.s.statsInodes.get() as { inodes: number; logical: number };
    const sl = this.s.statsSlices.get() as { referenced: number };
    const b = this.s.statsBlocks.get() as { blocks: number; bytes: number; stored: number };
    return {
      inodes: i.inodes, logicalBytes: i.logical, referencedBytes: sl.referenced,
      blocks: b.blocks, blockBytes: b.bytes, storedBytes: b.stored,
    };
  }

  async check(): Promise<string[]> {
    return checkSqliteStore(this.db, this.chunkSize);
  }

  // ---- helpers (run inside a transaction where they change things) ----

  private inode(ino: number): InodeRow {
    const row = inodeRow(this.s.getInode.get(ino));
    if (!row) throw new FsError('ENOENT', `no inode ${ino}`);
    return row;
  }

  private dir(ino: number): InodeRow {
    const row = this.inode(ino);
    if (!isDirMode(row.mode)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
    return row;
  }

  /** dir() when only the mode and link count matter. */
  private dirBrief(ino: number): { mode: number; nlink: number } {
    const row = this.s.getModeNlink.get(ino) as [mode: number, nlink: number] | undefined;
    if (!row) throw new FsError('ENOENT', `no inode ${ino}`);
    if (!isDirMode(row[0])) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
    return { mode: row[0], nlink: row[1] };
  }

  /** inode() when only the check matters: reads one column, not the row. */
  private assertInode(ino: number): number {
    const mode = this.s.getMode.get(ino) as number | undefined;
    if (mode === undefined) throw new FsError('ENOENT', `no inode ${ino}`);
    return mode;
  }

  /** dir() when only the check matters. */
  private assertDir(ino: number): void {
    if (!isDirMode(this.assertInode(ino))) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
  }

  /** The named child's ino, mode and link count; ENOENT (or ENOTDIR for the parent) if absent. */
  private childBrief(parent: number, name: string): { ino: number; mode: number; nlink: number } {
    const row = this.s.lookupBrief.get(parent, name) as [ino: number, mode: number, nlink: number] | undefined;
    if (row) return { ino: row[0], mode: row[1], nlink: row[2] };
    this.assertDir(parent);
    throw new FsError('ENOENT', `${JSON.stringify(name)} does not exist`);
  }

  /** Delete an (empty, unnamed) directory inode outright. */
  private freeDir(ino: number): void {
    this.s.closureDeleteDir.run(ino);
    this.s.deleteXattrsOf.run(ino);
    this.s.deleteInode.run(ino);
  }

  /** Re-hang directory `dir` and everything under it below `newParent` (closure rows only). */
  private moveSubtree(dir: number, newParent: number): void {
    this.s.closureDetach.run({ dir });
    this.s.closureAttach.run({ dir, parent: newParent });
  }
}

function settleChunkSize(db: Database.Database, wanted: number | undefined): number {
  if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 1)) {
    throw new VolumeError(`invalid chunk size ${wanted}`);
  }
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(SETTING_CHUNK_SIZE) as
    | { value: string }
    | undefined;
  if (row) {
    const stored = Number(row.value);
    if (wanted !== undefined && wanted !== stored) {
      throw new VolumeError(`metadata store uses chunk size ${stored}, not ${wanted}`);
    }
    return stored;
  }
  const size = wanted ?? DEFAULT_CHUNK_SIZE;
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run(SETTING_CHUNK_SIZE, String(size));
  return size;
}

function commitDelayFromEnv(): number {
  const raw = process.env[COMMIT_DELAY_ENV];
  if (raw === undefined || raw === '') return DEFAULT_COMMIT_DELAY_MS;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new VolumeError(`${COMMIT_DELAY_ENV}=${JSON.stringify(raw)} is not a number of ms >= 0`);
  return ms;
}

function checkXattrName(name: string): void {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name, 'utf8') > XATTR_NAME_MAX) {
    throw new FsError('ERANGE', `bad xattr name ${JSON.stringify(name)}`);
  }
}

/** A raw readdirAttrs row (inode columns, then the name) as an entry with its attributes. */
function entryWithAttr(raw: unknown[]): DirEntry {
  const attr = toAttr(inodeRow(raw)!);
  return { name: raw[INODE_COLUMNS.length] as string, ino: attr.ino, mode: attr.mode, attr };
}

function toBlockRecord(r: BlockRow): BlockRecord {
  return { id: r.id, size: r.size, storedSize: r.stored_size, refs: r.refs };
}

function encodeCursor(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (name === '' || encodeCursor(name) !== cursor) throw new FsError('EINVAL', 'bad readdir cursor');
  return name;
}

function fsyncPath(p: string, flags: string): void {
  let fd: number;
  try {
    fd = fs.openSync(p, flags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
