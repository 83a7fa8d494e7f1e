import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { BlockNotFoundError, FsError } from '../../errors.js';
import { assertBlockId, assertByteRange, BLOCK_ID_RE, type BlockInfo, type BlockStore } from '../BlockStore.js';
import { removeStaleTempFiles, TEMP_DIR } from './tempFiles.js';

const HEX_PAIR_RE = /^[0-9a-f]{2}$/;
/** How many fsyncs sync() keeps in flight at once. */
const SYNC_PARALLELISM = 16;

/**
 * Blocks as files in a folder: dir/ab/<id> (one level of 256 fan-out folders: a second level made
 * almost every new small block also create a folder, which dominated small-file writes; 256 folders
 * keep each one at a few thousand entries per million blocks). A put writes dir/.tmp/<pid>.<random> and renames it
 * into place (atomic, so a reader never sees a partial block and concurrent puts of one id are
 * harmless). Durability against power loss is deferred to sync(), which fsyncs the files written
 * since the last sync and the directories whose entries changed.
 */
export class LocalBlockStore implements BlockStore {
  readonly name: string;
  private readonly tmpDir: string;
  private readonly knownDirs = new Set<string>();
  private readonly inflight = new Map<string, Promise<void>>();
  private unsyncedFiles = new Set<string>();
  private unsyncedDirs = new Set<string>();

  private constructor(readonly dir: string) {
    this.name = `local:${dir}`;
    this.tmpDir = path.join(dir, TEMP_DIR);
  }

  static async open(dir: string): Promise<LocalBlockStore> {
    const abs = path.resolve(dir);
    await fs.mkdir(path.join(abs, TEMP_DIR), { recursive: true });
    await removeStaleTempFiles(path.join(abs, TEMP_DIR));
    return new LocalBlockStore(abs);
  }

  /** Where a block lives; the id is validated before it can become part of a path. */
  pathOf(id: string): string {
    assertBlockId(id);
    return path.join(this.dir, id.slice(0, 2), id);
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    const file = this.pathOf(id);
    const running = this.inflight.get(id);
    if (running) return running;
    const job = this.write(file, data).finally(() => this.inflight.delete(id));
    this.inflight.set(id, job);
    return job;
  }

  private async write(file: string, data: Uint8Array): Promise<void> {
    // The existence check, the fan-out folder and the temp file are independent: doing them at
    // once takes one file-creation latency off every new block (tiny files pay little else).
    const tmp = path.join(this.tmpDir, `${process.pid}.${randomBytes(8).toString('hex')}`);
    const steps = await Promise.allSettled([
      isFile(file), this.ensureDir(path.dirname(file)), fs.writeFile(tmp, data, { flag: 'wx' }),
    ]);
    const exists = steps[0].status === 'fulfilled' && steps[0].value;
    const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (exists || failed) {
      await fs.rm(tmp, { force: true });
      if (!exists) throw failed!.reason;
      // Same id means same content: keep the existing copy, but make sure the next sync covers it.
      this.unsyncedFiles.add(file);
      return;
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.unsyncedFiles.add(file);
    this.unsyncedDirs.add(path.dirname(file));
  }

  private async ensureDir(leaf: string): Promise<void> {
    if (this.knownDirs.has(leaf)) return;
    const mid = path.dirname(leaf);
    // mkdir reports the first folder it created; new folders need their parents' entries synced.
    const created = await fs.mkdir(leaf, { recursive: true });
    if (created !== undefined) {
      this.unsyncedDirs.add(mid);
      if (created === mid) this.unsyncedDirs.add(this.dir);
    }
    this.knownDirs.add(leaf);
  }

  async get(id: string): Promise<Buffer> {
    const handle = await this.openBlock(id);
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new FsError('EIO', `block ${id} in ${this.name} is not a regular file`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertByteRange(offset, length);
    const handle = await this.openBlock(id);
    try {
      // No stat: a read past the end simply returns fewer bytes, which is the clipping rule.
      const out = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? out : out.subarray(0, got);
    } catch (err) {
      if (errCode(err) === 'EISDIR') throw new FsError('EIO', `block ${id} in ${this.name} is not a regular file`);
      throw err;
    } finally {
      await handle.close();
    }
  }

  private async openBlock(id: string): Promise<fs.FileHandle> {
    const file = this.pathOf(id);
    try {
      // O_NOFOLLOW: a symlink planted in the store is never followed out of it.
      return await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') throw new BlockNotFoundError(id);
      if (errCode(err) === 'ELOOP') throw new FsError('EIO', `block ${id} in ${this.name} is a symlink`);
      throw err;
    }
  }

  async has(id: string): Promise<boolean> {
    return isFile(this.pathOf(id));
  }

  async delete(id: string): Promise<void> {
    const file = this.pathOf(id);
    await this.inflight.get(id)?.catch(() => undefined);
    try {
      await fs.unlink(file);
    } catch (err) {
      if (errCode(err) !== 'ENOENT' && errCode(err) !== 'ENOTDIR') throw err;
      return;
    }
    this.unsyncedFiles.delete(file);
    this.unsyncedDirs.add(path.dirname(file));
  }

  async *list(): AsyncIterable<BlockInfo> {
    for (const a of await subdirs(this.dir)) {
      const leaf = path.join(this.dir, a);
      for (const name of await fileNames(leaf)) {
        if (!BLOCK_ID_RE.test(name) || !name.startsWith(a)) continue;
        let st;
        try {
          st = await fs.lstat(path.join(leaf, name));
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
    try {
      await forEachLimited(files, SYNC_PARALLELISM, (f) => fsyncPath(f, true));
      // Leaves before their parents, so a new leaf folder's entry is synced after its contents.
      dirs.sort((x, y) => y.length - x.length);
      await forEachLimited(dirs, SYNC_PARALLELISM, (d) => fsyncPath(d, false));
    } catch (err) {
      for (const f of files) this.unsyncedFiles.add(f);
      for (const d of dirs) this.unsyncedDirs.add(d);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    await this.sync();
  }
}

async function fsyncPath(p: string, isFileHint: boolean): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(p, isFileHint ? fsc.O_RDONLY : fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return; // deleted since it was written: nothing to make durable
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.lstat(p)).isFile();
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && HEX_PAIR_RE.test(e.name)).map((e) => e.name);
}

async function fileNames(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return [];
    throw err;
  }
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}
