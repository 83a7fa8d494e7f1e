import pg from 'pg';
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
import { checkTimespec, isDirMode, isRegMode, toAttr, type BlockRow, type InodeRow } from '../sqlite/rows.js';
import { checkPostgresStore } from './check.js';
import { migrateSchema } from './migrate.js';
import {
  checkSchemaName, createPostgresPool, poolIsSerializable, retrying, run, serializable, type Queryable, type Stmt,
} from './pgClient.js';
import { META_MIGRATIONS } from './schema.js';
import { PgSliceTable } from './sliceTable.js';
import { metaStatements, type MetaStatements } from './statements.js';

/** Settings this engine owns (the same key as the SQLite engine). */
export const SETTING_CHUNK_SIZE = 'chunk_size';
export const META_SCHEMA_VERSION = META_MIGRATIONS.length;

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const FILE_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);

export interface PostgresMetaStoreOptions {
  pool: pg.Pool;
  /** The schema holding this store's tables (the server uses u_<userId>); created if missing. */
  schema: string;
  /** Bytes per chunk, recorded at creation; opening with another value throws VolumeError. */
  chunkSize: number;
  /** close() ends the pool. */
  ownsPool?: boolean;
  /** Most hard links (and subdirectories) an inode may have; default LINK_MAX (65000), as ext4. Tests lower it. */
  linkMax?: number;
}

/**
 * MetaStore on PostgreSQL, one schema per namespace. The design is the SQLite engine's (closure
 * table, slices, block refs, alloc column). Concurrency: every namespace change is ONE transaction
 * at SERIALIZABLE isolation, rerun automatically on a serialization failure or deadlock
 * (pgClient.serializable); several servers on one database therefore behave as if their changes
 * ran one after the other, and every decision (EEXIST, EINVAL for a cycle, ENOTEMPTY...) is taken
 * on the state it commits against. Single-statement reads and changes run without an explicit
 * transaction (a statement is atomic and sees one snapshot).
 */
export class PostgresMetaStore implements MetaStore {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly chunkSize: number;
  private readonly ownsPool: boolean;
  private readonly s: MetaStatements;
  private readonly slices: PgSliceTable;
  private closed = false;
  private serializableByDefault = false;
  readonly linkMax: number = LINK_MAX;

  static async open(opts: PostgresMetaStoreOptions): Promise<PostgresMetaStore> {
    const schema = checkSchemaName(opts.schema);
    if (!Number.isSafeInteger(opts.chunkSize) || opts.chunkSize < 1) {
      throw new VolumeError(`invalid chunk size ${opts.chunkSize}`);
    }
    await migrateSchema(opts.pool, schema, META_MIGRATIONS);
    const store = new PostgresMetaStore(opts.pool, schema, opts.chunkSize, opts.ownsPool ?? false);
    store.serializableByDefault = await poolIsSerializable(opts.pool);
    (store as { linkMax: number }).linkMax = opts.linkMax ?? LINK_MAX;
    await run(opts.pool, store.s.addSetting, [SETTING_CHUNK_SIZE, String(opts.chunkSize)]);
    const stored = Number(await store.getSetting(SETTING_CHUNK_SIZE));
    if (stored !== opts.chunkSize) {
      await store.close();
      throw new VolumeError(`metadata store uses chunk size ${stored}, not ${opts.chunkSize}`);
    }
    return store;
  }

  /** A store with its own pool (closed with the store). */
  static async connect(url: string, schema: string, chunkSize: number): Promise<PostgresMetaStore> {
    const pool = createPostgresPool(url, 10);
    try {
      return await PostgresMetaStore.open({ pool, schema, chunkSize, ownsPool: true });
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  private constructor(pool: pg.Pool, schema: string, chunkSize: number, ownsPool: boolean) {
    this.pool = pool;
    this.schema = schema;
    this.chunkSize = chunkSize;
    this.ownsPool = ownsPool;
    this.s = metaStatements(schema);
    this.slices = new PgSliceTable(this.s, chunkSize);
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return serializable(this.pool, fn);
  }

  /**
   * A change made by one statement: on a pool whose sessions default to SERIALIZABLE
   * (createPostgresPool) it is one round trip; on any other pool it runs inside BEGIN/COMMIT.
   */
  private oneStatement<R>(stmt: Stmt, values: unknown[]): Promise<R[]> {
    if (this.serializableByDefault) return retrying(() => run<R>(this.pool, stmt, values));
    return this.tx((c) => run<R>(c, stmt, values));
  }

  // ---- lifecycle and settings ----

  async init(root: { mode: number; uid: number; gid: number; now: Timespec }): Promise<void> {
    checkTimespec(root.now, 'now');
    await run(this.pool, this.s.initRoot, [S_IFDIR | (root.mode & 0o7777), root.uid, root.gid, root.now.sec, root.now.nsec]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  /** A committed PostgreSQL transaction is already durable (WAL flushed at commit). */
  async sync(): Promise<void> {}

  async getSetting(key: string): Promise<string | null> {
    const rows = await run<{ value: string }>(this.pool, this.s.getSetting, [key]);
    return rows.length ? rows[0].value : null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await run(this.pool, this.s.setSetting, [key, value]);
  }

  // ---- lookups ----

  async getattr(ino: number): Promise<InodeAttr> {
    return toAttr(await this.inode(this.pool, ino));
  }

  async lookup(parent: number, name: string): Promise<InodeAttr | null> {
    validateName(name);
    const child = await this.probeChild(this.pool, parent, name);
    return child ? toAttr(child) : null;
  }

  async pathOf(ino: number): Promise<string | null> {
    if (ino === ROOT_INO) {
      await this.assertInode(this.pool, ino);
      return '/';
    }
    const rows = await run<{ parent: number; name: string }>(this.pool, this.s.pathUp, [ino]);
    if (rows.length === 0) {
      await this.assertInode(this.pool, ino);
      return null;
    }
    if (rows[rows.length - 1].parent !== ROOT_INO) {
      throw new FsError('EIO', `inode ${ino} is not connected to the root: metadata is inconsistent`);
    }
    return '/' + rows.map((r) => r.name).reverse().join('/');
  }

  async isAncestor(ancestor: number, ino: number): Promise<boolean> {
    if (ancestor === ino) return (await run(this.pool, this.s.getMode, [ino])).length > 0;
    return (await run<{ yes: boolean }>(this.pool, this.s.isAncestor, [ino, ancestor]))[0].yes;
  }

  async readlink(ino: number): Promise<string> {
    const rows = await run<{ mode: number; target: string | null }>(this.pool, this.s.readlink, [ino]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
    if ((rows[0].mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
    if (rows[0].target === null) throw new FsError('EIO', `symlink ${ino} has no target`);
    return rows[0].target;
  }

  async readdir(dir: number, cursor: string | null, limit: number, withAttrs = false): Promise<DirPage> {
    if (!Number.isInteger(limit) || limit < 1) throw new FsError('EINVAL', `readdir limit ${limit}`);
    const after = cursor === null ? '' : decodeCursor(cursor);
    await this.assertDir(this.pool, dir);
    const args = [dir, after, limit + 1];
    const entries: DirEntry[] = withAttrs
      ? (await run<InodeRow & { name: string }>(this.pool, this.s.readdirAttrs, args)).map((r) => ({ name: r.name, ino: r.ino, mode: r.mode, attr: toAttr(r) }))
      : (await run<{ name: string; ino: number; mode: number }>(this.pool, this.s.readdir, args)).map((r) => ({ name: r.name, ino: r.ino, mode: r.mode }));
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
    const { now } = node;
    const size = target === undefined ? 0 : Buffer.byteLength(target, 'utf8');
    const nlink = isDir ? 2 : 1;
    const rdev = node.rdev ?? 0;
    const ino = await this.tx(async (c) => {
      const probe = await run<{ mode: number; nlink: number; taken: boolean }>(c, this.s.createProbe, [parent, name]);
      if (probe.length === 0) throw new FsError('ENOENT', `no inode ${parent}`);
      const p = probe[0];
      if (!isDirMode(p.mode)) throw new FsError('ENOTDIR', `inode ${parent} is not a directory`);
      if (p.taken) throw new FsError('EEXIST', `${JSON.stringify(name)} exists`);
      if (isDir && p.nlink >= this.linkMax) throw new FsError('EMLINK', `directory ${parent} has too many subdirectories`);
      const rows = await run<{ ino: number }>(c, this.s.createNode, [
        parent, name, node.mode, node.uid, node.gid, size, nlink, rdev, now.sec, now.nsec, isDir, target ?? null,
      ]);
      return rows[0].ino;
    });
    return {
      ino, mode: node.mode, uid: node.uid, gid: node.gid, size, nlink, rdev,
      allocated: 0, atime: { ...now }, mtime: { ...now }, ctime: { ...now }, crtime: { ...now },
    };
  }

  async link(ino: number, newParent: number, newName: string, now: Timespec): Promise<InodeAttr> {
    validateName(newName);
    checkTimespec(now, 'now');
    const rows = await this.oneStatement<InodeRow & { code: string }>(this.s.linkOne, [
      ino, newParent, newName, now.sec, now.nsec, this.linkMax,
    ]);
    const { code, ...node } = rows[0];
    switch (code) {
      case 'OK':
        return toAttr({ ...node, nlink: node.nlink + 1, ctime_s: now.sec, ctime_ns: now.nsec });
      case 'ENOENT': throw new FsError('ENOENT', `inode ${ino} or directory ${newParent} does not exist`);
      case 'ENOTDIR': throw new FsError('ENOTDIR', `inode ${newParent} is not a directory`);
      case 'EEXIST': throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      case 'EPERM': throw new FsError('EPERM', 'hard links to directories are not allowed');
      case 'EMLINK': throw new FsError('EMLINK', `inode ${ino} has ${node.nlink} links`);
      default: throw new FsError('EIO', `unexpected link outcome ${code}`);
    }
  }

  async unlink(parent: number, name: string, now: Timespec): Promise<UnlinkResult> {
    validateName(name);
    checkTimespec(now, 'now');
    return this.tx(async (c) => {
      const child = await this.child(c, parent, name);
      if (isDirMode(child.mode)) throw new FsError('EISDIR', `${JSON.stringify(name)} is a directory`);
      await run(c, this.s.deleteEntry, [parent, name]);
      await run(c, this.s.bumpNlinkCtime, [-1, now.sec, now.nsec, child.ino]);
      await run(c, this.s.touchDir, [0, now.sec, now.nsec, parent]);
      return { ino: child.ino, nlink: child.nlink - 1 };
    });
  }

  async rmdir(parent: number, name: string, now: Timespec): Promise<void> {
    validateName(name);
    checkTimespec(now, 'now');
    await this.tx(async (c) => {
      const child = await this.child(c, parent, name);
      if (!isDirMode(child.mode)) throw new FsError('ENOTDIR', `${JSON.stringify(name)} is not a directory`);
      if (child.ino === ROOT_INO) throw new FsError('EBUSY', 'cannot remove the root');
      if ((await run(c, this.s.hasChildren, [child.ino])).length > 0) {
        throw new FsError('ENOTEMPTY', `${JSON.stringify(name)} is not empty`);
      }
      await run(c, this.s.deleteEntry, [parent, name]);
      await this.freeDir(c, child.ino);
      await run(c, this.s.touchDir, [-1, now.sec, now.nsec, parent]);
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
    return this.tx(async (c) => {
      const probe = new Map<string, InodeRow>();
      for (const r of await run<InodeRow & { k: string }>(c, this.s.renameProbe, [parent, name, newParent, newName])) {
        probe.set(r.k, r);
      }
      const parentRow = requireDir(probe.get('p'), parent);
      const newParentRow = newParent === parent ? parentRow : requireDir(probe.get('q'), newParent);
      const src = probe.get('s');
      if (!src) throw new FsError('ENOENT', `${JSON.stringify(name)} does not exist`);
      const dst = probe.get('d');
      if (dst && (flags & RENAME_NOREPLACE)) throw new FsError('EEXIST', `${JSON.stringify(newName)} exists`);
      if (!dst && exchange) throw new FsError('ENOENT', `${JSON.stringify(newName)} does not exist`);
      const srcIsDir = isDirMode(src.mode);
      const dstIsDir = dst !== undefined && isDirMode(dst.mode);
      if (srcIsDir || dstIsDir) {
        const [a] = await run<{ src_above: boolean; dst_above: boolean }>(c, this.s.renameAncestry, [
          src.ino, newParent, dst?.ino ?? 0, parent,
        ]);
        if (srcIsDir && a.src_above) throw new FsError('EINVAL', 'cannot move a directory into itself');
        if (dstIsDir && a.dst_above) {
          throw new FsError(exchange ? 'EINVAL' : 'ENOTEMPTY', 'target is an ancestor of the source');
        }
      }
      if (dst && dst.ino === src.ino) return {};

      if (dst && !exchange) {
        if (srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', `${JSON.stringify(newName)} is not a directory`);
        if (!srcIsDir && dstIsDir) throw new FsError('EISDIR', `${JSON.stringify(newName)} is a directory`);
        if (dstIsDir && (await run(c, this.s.hasChildren, [dst.ino])).length > 0) {
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
        await run(c, this.s.setEntryIno, [dst!.ino, parent, name]);
        await run(c, this.s.setEntryIno, [src.ino, newParent, newName]);
        if (crossing && srcIsDir) await this.moveSubtree(c, src.ino, newParent);
        if (crossing && dstIsDir) await this.moveSubtree(c, dst!.ino, parent);
        await run(c, this.s.setCtime, [now.sec, now.nsec, dst!.ino]);
      } else {
        if (dst) {
          await run(c, this.s.deleteEntry, [newParent, newName]);
          if (dstIsDir) {
            await this.freeDir(c, dst.ino);
            result = { replaced: { ino: dst.ino, nlink: 0, isDir: true } };
          } else {
            await run(c, this.s.bumpNlinkCtime, [-1, now.sec, now.nsec, dst.ino]);
            result = { replaced: { ino: dst.ino, nlink: dst.nlink - 1, isDir: false } };
          }
        }
        await run(c, this.s.moveEntry, [newParent, newName, parent, name]);
        if (crossing && srcIsDir) await this.moveSubtree(c, src.ino, newParent);
      }
      await run(c, this.s.setCtime, [now.sec, now.nsec, src.ino]);
      for (const [dir, d] of delta) await run(c, this.s.touchDir, [d, now.sec, now.nsec, dir]);
      return result;
    });
  }

  async setattr(ino: number, changes: AttrChanges): Promise<InodeAttr> {
    checkTimespec(changes.ctime, 'ctime');
    if (changes.atime) checkTimespec(changes.atime, 'atime');
    if (changes.mtime) checkTimespec(changes.mtime, 'mtime');
    const rows = await run<InodeRow>(this.pool, this.s.setattr, [
      ino, changes.mode ?? null, changes.uid ?? null, changes.gid ?? null,
      changes.atime?.sec ?? null, changes.atime?.nsec ?? null, changes.mtime?.sec ?? null, changes.mtime?.nsec ?? null,
      changes.ctime.sec, changes.ctime.nsec,
    ]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
    return toAttr(rows[0]);
  }

  async truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr> {
    if (!Number.isSafeInteger(size) || size < 0) throw new FsError('EINVAL', `size ${size}`);
    checkTimespec(now, 'now');
    return this.tx(async (c) => {
      const row = await this.inode(c, ino);
      if (isDirMode(row.mode)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
      if (!isRegMode(row.mode)) throw new FsError('EINVAL', `inode ${ino} is not a regular file`);
      // Also when growing: bytes past the old end must read back as a hole, never as stale data.
      const allocDelta = await this.slices.cutFrom(c, ino, Math.min(size, row.size));
      const rows = await run<InodeRow>(c, this.s.setSizeTimes, [ino, size, now.sec, now.nsec, false, allocDelta, now.sec, now.nsec]);
      return toAttr(rows[0]);
    });
  }

  async listOrphans(): Promise<number[]> {
    return (await run<{ ino: number }>(this.pool, this.s.orphans)).map((r) => r.ino);
  }

  /** Idempotent: an inode that is already gone is not an error. EINVAL if it still has links. */
  async purgeInode(ino: number): Promise<void> {
    await this.tx(async (c) => {
      const rows = await run<InodeRow>(c, this.s.getInode, [ino]);
      if (rows.length === 0) return;
      const row = rows[0];
      if (row.nlink > 0) throw new FsError('EINVAL', `inode ${ino} still has ${row.nlink} links`);
      if (isRegMode(row.mode)) await this.slices.cutFrom(c, ino, 0);
      if ((row.mode & S_IFMT) === S_IFLNK) await run(c, this.s.deleteSymlink, [ino]);
      if (isDirMode(row.mode)) await run(c, this.s.closureDeleteDir, [ino]);
      await run(c, this.s.deleteXattrsOf, [ino]);
      await run(c, this.s.deleteInode, [ino]);
    });
  }

  // ---- xattrs ----

  async getxattr(ino: number, name: string): Promise<Buffer> {
    checkXattrName(name);
    const rows = await run<{ mode: number; value: Buffer | null }>(this.pool, this.s.getXattrOf, [ino, name]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
    if (rows[0].value === null) throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
    return rows[0].value;
  }

  async setxattr(ino: number, name: string, value: Buffer, flags: number, now: Timespec): Promise<void> {
    checkXattrName(name);
    checkTimespec(now, 'now');
    if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) {
      throw new FsError('EINVAL', `xattr flags ${flags}`);
    }
    if (value.length > XATTR_SIZE_MAX) throw new FsError('E2BIG', `xattr value of ${value.length} bytes`);
    await this.tx(async (c) => {
      const rows = await run<{ mode: number; value: Buffer | null }>(c, this.s.getXattrOf, [ino, name]);
      if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
      const exists = rows[0].value !== null;
      if (exists && (flags & XATTR_CREATE)) throw new FsError('EEXIST', `xattr ${JSON.stringify(name)} exists`);
      if (!exists && (flags & XATTR_REPLACE)) throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
      await run(c, this.s.putXattr, [ino, name, Buffer.from(value)]);
      await run(c, this.s.setCtime, [now.sec, now.nsec, ino]);
    });
  }

  async listxattr(ino: number): Promise<string[]> {
    await this.assertInode(this.pool, ino);
    return (await run<{ name: string }>(this.pool, this.s.listXattrs, [ino])).map((r) => r.name);
  }

  async removexattr(ino: number, name: string, now: Timespec): Promise<void> {
    checkXattrName(name);
    checkTimespec(now, 'now');
    await this.tx(async (c) => {
      await this.assertInode(c, ino);
      if ((await run(c, this.s.deleteXattr, [ino, name])).length === 0) {
        throw new FsError('ENODATA', `no xattr ${JSON.stringify(name)}`);
      }
      await run(c, this.s.setCtime, [now.sec, now.nsec, ino]);
    });
  }

  // ---- file contents: slices and blocks ----

  async readChunks(ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    await this.assertInode(this.pool, ino);
    return this.slices.read(this.pool, ino, first, last);
  }

  async commitSlices(
    ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime: Timespec = mtime,
  ): Promise<InodeAttr> {
    if (!Number.isSafeInteger(minSize) || minSize < 0) throw new FsError('EINVAL', `size ${minSize}`);
    checkTimespec(mtime, 'mtime');
    checkTimespec(ctime, 'ctime');
    for (const w of writes) this.slices.validate(w);
    const added = writes.reduce((sum, w) => sum + w.slices.reduce((s, sl) => s + sl.len, 0), 0);
    return this.tx(async (c) => {
      // The inode first (size, times, alloc), so a missing or non-regular inode is reported before any block problem.
      const rows = await run<InodeRow>(c, this.s.setSizeTimes, [ino, minSize, mtime.sec, mtime.nsec, true, added, ctime.sec, ctime.nsec]);
      if (rows.length === 0) {
        const mode = await this.assertInode(c, ino);
        throw new FsError(isDirMode(mode) ? 'EISDIR' : 'EINVAL', `inode ${ino} is not a regular file`);
      }
      this.slices.validateBlocks(newBlocks);
      await this.slices.recordBlocks(c, newBlocks);
      await this.slices.append(c, ino, writes);
      return toAttr(rows[0]);
    });
  }

  async replaceChunk(
    ino: number, chunk: number, expectedCount: number, slices: Slice[], newBlocks: NewBlock[],
  ): Promise<boolean> {
    this.slices.validate({ chunk, slices });
    return this.tx(async (c) => {
      if ((await run(c, this.s.getMode, [ino])).length === 0) return false;
      if ((await this.slices.countChunk(c, ino, chunk)) !== expectedCount) return false;
      this.slices.validateBlocks(newBlocks);
      await this.slices.recordBlocks(c, newBlocks);
      await this.slices.replace(c, ino, chunk, slices);
      return true;
    });
  }

  async getBlock(id: string): Promise<BlockRecord | null> {
    const rows = await run<BlockRow>(this.pool, this.s.getBlock, [id]);
    return rows.length ? toBlockRecord(rows[0]) : null;
  }

  async unreferencedBlocks(olderThanMs: number, limit: number): Promise<string[]> {
    return (await run<{ id: string }>(this.pool, this.s.unreferencedBlocks, [olderThanMs, limit])).map((r) => r.id);
  }

  async forgetBlocks(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const gone = new Set((await run<{ id: string }>(this.pool, this.s.forgetBlocks, [ids])).map((r) => r.id));
    return ids.filter((id) => gone.delete(id));
  }

  async listBlocks(cursor: string | null, limit: number): Promise<{ blocks: BlockRecord[]; next: string | null }> {
    if (!Number.isInteger(limit) || limit < 1) throw new FsError('EINVAL', `listBlocks limit ${limit}`);
    if (cursor !== null && !BLOCK_ID_RE.test(cursor)) throw new FsError('EINVAL', 'bad block cursor');
    const rows = await run<BlockRow>(this.pool, this.s.listBlocks, [cursor ?? '', limit + 1]);
    const more = rows.length > limit;
    if (more) rows.pop();
    return { blocks: rows.map(toBlockRecord), next: more ? rows[rows.length - 1].id : null };
  }

  async inodesUsingBlock(id: string): Promise<number[]> {
    return (await run<{ ino: number }>(this.pool, this.s.inodesUsingBlock, [id])).map((r) => r.ino);
  }

  async stats(): Promise<MetaStats> {
    const [r] = await run<{ inodes: number; logical: number; referenced: number; blocks: number; bytes: number; stored: number }>(
      this.pool, this.s.stats);
    return {
      inodes: r.inodes, logicalBytes: r.logical, referencedBytes: r.referenced,
      blocks: r.blocks, blockBytes: r.bytes, storedBytes: r.stored,
    };
  }

  async check(): Promise<string[]> {
    return checkPostgresStore(this.pool, this.schema, this.chunkSize);
  }

  // ---- helpers ----

  private async inode(db: Queryable, ino: number): Promise<InodeRow> {
    const rows = await run<InodeRow>(db, this.s.getInode, [ino]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
    return rows[0];
  }

  /** The inode's mode; ENOENT if it does not exist. */
  private async assertInode(db: Queryable, ino: number): Promise<number> {
    const rows = await run<{ mode: number }>(db, this.s.getMode, [ino]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${ino}`);
    return rows[0].mode;
  }

  private async assertDir(db: Queryable, ino: number): Promise<void> {
    if (!isDirMode(await this.assertInode(db, ino))) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
  }

  /** The child's row, null if absent; ENOENT/ENOTDIR for a bad parent (one round trip). */
  private async probeChild(db: Queryable, parent: number, name: string): Promise<InodeRow | null> {
    const rows = await run<InodeRow & { pmode: number }>(db, this.s.lookupIn, [parent, name]);
    if (rows.length === 0) throw new FsError('ENOENT', `no inode ${parent}`);
    const r = rows[0];
    if (r.ino !== null) return r;
    if (!isDirMode(r.pmode)) throw new FsError('ENOTDIR', `inode ${parent} is not a directory`);
    return null;
  }

  private async child(db: Queryable, parent: number, name: string): Promise<InodeRow> {
    const row = await this.probeChild(db, parent, name);
    if (!row) throw new FsError('ENOENT', `${JSON.stringify(name)} does not exist`);
    return row;
  }

  /** Delete an (empty, unnamed) directory inode outright. */
  private async freeDir(c: pg.PoolClient, ino: number): Promise<void> {
    await run(c, this.s.closureDeleteDir, [ino]);
    await run(c, this.s.deleteXattrsOf, [ino]);
    await run(c, this.s.deleteInode, [ino]);
  }

  /** Re-hang directory `dir` and everything under it below `newParent` (closure rows only). */
  private async moveSubtree(c: pg.PoolClient, dir: number, newParent: number): Promise<void> {
    await run(c, this.s.closureDetach, [dir]);
    await run(c, this.s.closureAttach, [dir, newParent]);
  }
}

function requireDir(row: InodeRow | undefined, ino: number): InodeRow {
  if (!row) throw new FsError('ENOENT', `no inode ${ino}`);
  if (!isDirMode(row.mode)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
  return row;
}

function checkXattrName(name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\0') || Buffer.byteLength(name, 'utf8') > XATTR_NAME_MAX) {
    throw new FsError('ERANGE', `bad xattr name ${JSON.stringify(name)}`);
  }
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
