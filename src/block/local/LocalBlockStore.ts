import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { BlockNotFoundError, FsError } from '../../errors.js';
import { assertBlockId, assertByteRange, BLOCK_ID_RE, type BlockInfo, type BlockStore } from '../BlockStore.js';
import { closeFd, errCode, fstat, fsyncPath, isFile, openForRead, readRange, rename, unlink, writeNewFile } from './blockFiles.js';
import { SmallBlockDb } from './SmallBlockDb.js';
import { removeStaleTempFiles, TEMP_DIR } from './tempFiles.js';

const HEX_PAIR_RE = /^[0-9a-f]{2}$/;
/** How many fsyncs sync() keeps in flight at once. */
const SYNC_PARALLELISM = 16;
/** Rows per database query while listing. */
const LIST_PAGE_ROWS = 1000;

export interface LocalBlockStoreOptions {
  /**
   * Blocks of at most this many bytes are rows of dir/small.db instead of files (see SmallBlockDb);
   * 0 (the default) keeps every block a file. A folder that already holds a small.db is read from it
   * whatever this says.
   */
  smallBlockMaxBytes?: number;
}

/** The small-block limit for volumes (sealed bytes): most small files and file tails fall under it. */
export const DEFAULT_SMALL_BLOCK_MAX_BYTES = 128 * 1024;

/**
 * Blocks in a folder: small ones (smallBlockMaxBytes) as rows of dir/small.db, the others as files
 * dir/ab/<id> (one level of 256 fan-out folders: a second level made almost every new block also
 * create a folder; 256 folders keep each one at a few thousand entries per million blocks).
 * Reads look in the database first, then for a file, so folders written before small.db existed keep
 * working, and a block stored both ways (put again after the limit changed) reads either way.
 * A file put writes dir/.tmp/<pid>.<random> and renames it into place (atomic, so a reader never sees
 * a partial block; renaming over an existing copy of the same id is harmless, the bytes are the
 * same). Durability against power loss is deferred to sync(), which fsyncs the database's WAL, the
 * files written since the last sync and the directories whose entries changed.
 */
export class LocalBlockStore implements BlockStore {
  readonly name: string;
  private readonly tmpDir: string;
  private readonly knownDirs = new Set<string>();
  private readonly inflight = new Map<string, Promise<void>>();
  private unsyncedFiles = new Set<string>();
  private unsyncedDirs = new Set<string>();

  private constructor(
    readonly dir: string,
    private readonly small: SmallBlockDb | null,
    private readonly smallMax: number,
  ) {
    this.name = `local:${dir}`;
    this.tmpDir = path.join(dir, TEMP_DIR);
  }

  static async open(dir: string, opts: LocalBlockStoreOptions = {}): Promise<LocalBlockStore> {
    const abs = path.resolve(dir);
    const smallMax = opts.smallBlockMaxBytes ?? 0;
    if (!Number.isSafeInteger(smallMax) || smallMax < 0) throw new RangeError(`smallBlockMaxBytes ${smallMax}`);
    await fsp.mkdir(path.join(abs, TEMP_DIR), { recursive: true });
    await removeStaleTempFiles(path.join(abs, TEMP_DIR));
    return new LocalBlockStore(abs, SmallBlockDb.open(abs, smallMax > 0), smallMax);
  }

  /** Where a block lives if it is a file; the id is validated before it can become part of a path. */
  pathOf(id: string): string {
    assertBlockId(id);
    return path.join(this.dir, id.slice(0, 2), id);
  }

  /** True if the block is a row of the small-block database (not, or not only, a file). */
  isRow(id: string): boolean {
    assertBlockId(id);
    return this.small?.has(id) ?? false;
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    const file = this.pathOf(id);
    if (this.small && data.length <= this.smallMax) return this.small.put(id, data);
    const running = this.inflight.get(id);
    if (running) return running;
    const job = this.write(file, data).finally(() => this.inflight.delete(id));
    this.inflight.set(id, job);
    return job;
  }

  private async write(file: string, data: Uint8Array): Promise<void> {
    // The fan-out folder and the temp file are independent: making them at once takes one
    // file-creation latency off every new block. No existence check: a rename over a copy of the
    // same block is harmless.
    const tmp = path.join(this.tmpDir, `${process.pid}.${randomBytes(8).toString('hex')}`);
    const steps = await Promise.allSettled([this.ensureDir(path.dirname(file)), writeNewFile(tmp, data)]);
    const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      await rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    this.unsyncedFiles.add(file);
    this.unsyncedDirs.add(path.dirname(file));
  }

  private async ensureDir(leaf: string): Promise<void> {
    if (this.knownDirs.has(leaf)) return;
    const mid = path.dirname(leaf);
    // mkdir reports the first folder it created; new folders need their parents' entries synced.
    const created = await fsp.mkdir(leaf, { recursive: true });
    if (created !== undefined) {
      this.unsyncedDirs.add(mid);
      if (created === mid) this.unsyncedDirs.add(this.dir);
    }
    this.knownDirs.add(leaf);
  }

  async get(id: string): Promise<Buffer> {
    const file = this.pathOf(id);
    const row = this.small?.get(id);
    if (row) return row;
    const fd = await this.openBlock(id, file);
    try {
      const st = await fstat(fd);
      if (!st.isFile()) throw new FsError('EIO', `block ${id} in ${this.name} is not a regular file`);
      return await readRange(fd, 0, st.size);
    } finally {
      await closeFd(fd);
    }
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    const file = this.pathOf(id);
    assertByteRange(offset, length);
    const row = this.small?.getRange(id, offset, length);
    if (row) return row;
    const fd = await this.openBlock(id, file);
    try {
      // No stat: a read past the end simply returns fewer bytes, which is the clipping rule.
      return await readRange(fd, offset, length);
    } catch (err) {
      if (errCode(err) === 'EISDIR') throw new FsError('EIO', `block ${id} in ${this.name} is not a regular file`);
      throw err;
    } finally {
      await closeFd(fd);
    }
  }

  private async openBlock(id: string, file: string): Promise<number> {
    try {
      // O_NOFOLLOW: a symlink planted in the store is never followed out of it.
      return await openForRead(file);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') throw new BlockNotFoundError(id);
      if (errCode(err) === 'ELOOP') throw new FsError('EIO', `block ${id} in ${this.name} is a symlink`);
      throw err;
    }
  }

  async has(id: string): Promise<boolean> {
    const file = this.pathOf(id);
    return (this.small?.has(id) ?? false) || isFile(file);
  }

  /** Removes every copy: the row and the file (a block may be both, see the class comment). */
  async delete(id: string): Promise<void> {
    const file = this.pathOf(id);
    const running = this.inflight.get(id);
    if (running) await running.catch(() => undefined);
    // Issued before any await otherwise, so a put of the id issued after this delete comes after it.
    const [row, unlinked] = await Promise.allSettled([this.small?.delete(id), unlink(file)]);
    if (row.status === 'rejected') throw row.reason;
    if (unlinked.status === 'rejected') {
      const code = errCode(unlinked.reason);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw unlinked.reason;
      return;
    }
    this.unsyncedFiles.delete(file);
    this.unsyncedDirs.add(path.dirname(file));
  }

  /** Rows first (in pages: no statement stays open across a yield), then files that are not rows too. */
  async *list(): AsyncIterable<BlockInfo> {
    if (this.small) {
      for (let after = ''; ;) {
        const page = this.small.page(after, LIST_PAGE_ROWS);
        if (page.length === 0) break;
        yield* page;
        after = page[page.length - 1].id;
      }
    }
    for (const a of await subdirs(this.dir)) {
      const leaf = path.join(this.dir, a);
      for (const name of await fileNames(leaf)) {
        if (!BLOCK_ID_RE.test(name) || !name.startsWith(a)) continue;
        if (this.small?.has(name)) continue;
        let st;
        try {
          st = await fsp.lstat(path.join(leaf, name));
        } catch (err) {
          if (errCode(err) === 'ENOENT') continue; // deleted while listing
          throw err;
        }
        yield { id: name, size: st.size, mtimeMs: st.mtimeMs };
      }
    }
  }

  async sync(): Promise<void> {
    const files = [...this.unsyncedFiles];
    const dirs = [...this.unsyncedDirs];
    this.unsyncedFiles = new Set();
    this.unsyncedDirs = new Set();
    const syncFiles = async (): Promise<void> => {
      await forEachLimited(files, SYNC_PARALLELISM, (f) => fsyncPath(f, false));
      // Leaves before their parents, so a new leaf folder's entry is synced after its contents.
      dirs.sort((x, y) => y.length - x.length);
      await forEachLimited(dirs, SYNC_PARALLELISM, (d) => fsyncPath(d, true));
    };
    const [rows, fileSync] = await Promise.allSettled([this.small?.sync(), syncFiles()]);
    if (fileSync.status === 'rejected') {
      for (const f of files) this.unsyncedFiles.add(f);
      for (const d of dirs) this.unsyncedDirs.add(d);
      throw fileSync.reason;
    }
    if (rows.status === 'rejected') throw rows.reason;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    await this.sync();
    await this.small?.close();
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && HEX_PAIR_RE.test(e.name)).map((e) => e.name);
}

async function fileNames(dir: string): Promise<string[]> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return [];
    throw err;
  }
}

