import { constants as fsc, promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { FsError } from '../../errors.js';
import { S_IFLNK, S_IFMT, type InodeAttr } from '../../meta/MetaStore.js';
import { fromNs } from '../../util/time.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { isDir } from '../vfsPaths.js';
import { PIECE_BYTES, tryItem, warnSkipped, type TransferContext } from './common.js';

const { O_WRONLY, O_CREAT, O_TRUNC } = fsc;

/** Bytes of regular files under a local path (symlinks not followed), for the progress total. */
export async function localTreeBytes(local: string): Promise<number> {
  const st = await fsp.lstat(local);
  if (st.isFile()) return st.size;
  if (!st.isDirectory()) return 0;
  let total = 0;
  for (const name of await fsp.readdir(local)) total += await localTreeBytes(path.join(local, name)).catch(() => 0);
  return total;
}

/** Copy a local file, folder (recursively) or symlink to entry `name` of volume directory `parent`. */
export async function putEntry(ctx: TransferContext, local: string, parent: number, name: string, dest: string): Promise<void> {
  const st = await fsp.lstat(local, { bigint: true });
  if (st.isFile()) await putFile(ctx, local, st, parent, name, dest);
  else if (st.isDirectory()) await putDir(ctx, local, st, parent, name, dest);
  else if (st.isSymbolicLink()) await putSymlink(ctx, local, st, parent, name, dest);
  else warnSkipped(local, 'not a regular file, folder or symbolic link');
}

async function lookupOrNull(ctx: TransferContext, parent: number, name: string): Promise<InodeAttr | null> {
  try {
    return await ctx.vfs.lookup(ROOT_CTX, parent, name);
  } catch (err) {
    if (err instanceof FsError && err.code === 'ENOENT') return null;
    throw err;
  }
}

/** Remove a non-directory in the way of a new entry; a directory in the way is an error. */
async function clearWay(ctx: TransferContext, parent: number, name: string, dest: string, what: string): Promise<InodeAttr | null> {
  const existing = await lookupOrNull(ctx, parent, name);
  if (existing && isDir(existing)) throw new FsError('EISDIR', `cannot overwrite directory ${dest} with a ${what}`);
  return existing;
}

async function putFile(ctx: TransferContext, local: string, st: BigIntStats, parent: number, name: string, dest: string): Promise<void> {
  const existing = await clearWay(ctx, parent, name, dest, 'file');
  if (existing && (existing.mode & S_IFMT) === S_IFLNK) await ctx.vfs.unlink(ROOT_CTX, parent, name);
  const src = await fsp.open(local, 'r');
  try {
    const { fh, attr } = await ctx.vfs.create(ROOT_CTX, parent, name, 0o600, O_WRONLY | O_CREAT | O_TRUNC);
    try {
      let offset = 0;
      for (;;) {
        // A fresh buffer per piece: the data layer may keep a reference until it uploads.
        const piece = Buffer.allocUnsafe(PIECE_BYTES);
        const { bytesRead } = await src.read(piece, 0, PIECE_BYTES, offset);
        if (bytesRead === 0) break;
        await writeAll(ctx, fh, offset, piece.subarray(0, bytesRead));
        offset += bytesRead;
        ctx.progress.add(bytesRead);
      }
      await ctx.vfs.flush(ROOT_CTX, fh);
    } finally {
      await ctx.vfs.release(ROOT_CTX, fh);
    }
    await copyAttrs(ctx, attr.ino, st, true);
  } finally {
    await src.close();
  }
}

async function writeAll(ctx: TransferContext, fh: number, offset: number, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const n = await ctx.vfs.write(ROOT_CTX, fh, offset + done, data.subarray(done));
    if (n <= 0) throw new FsError('EIO', 'write made no progress');
    done += n;
  }
}

async function putDir(ctx: TransferContext, local: string, st: BigIntStats, parent: number, name: string, dest: string): Promise<void> {
  const existing = await lookupOrNull(ctx, parent, name);
  if (existing && !isDir(existing)) throw new FsError('ENOTDIR', `cannot overwrite non-directory ${dest} with a directory`);
  const dir = existing ?? await ctx.vfs.mkdir(ROOT_CTX, parent, name, 0o700);
  const names = (await fsp.readdir(local)).sort();
  for (const child of names) {
    const childLocal = path.join(local, child);
    const childDest = dest.endsWith('/') ? dest + child : `${dest}/${child}`;
    await tryItem(ctx, childLocal, () => putEntry(ctx, childLocal, dir.ino, child, childDest));
  }
  await copyAttrs(ctx, dir.ino, st, true);
}

async function putSymlink(ctx: TransferContext, local: string, st: BigIntStats, parent: number, name: string, dest: string): Promise<void> {
  const target = await fsp.readlink(local);
  if (await clearWay(ctx, parent, name, dest, 'symbolic link')) await ctx.vfs.unlink(ROOT_CTX, parent, name);
  const link = await ctx.vfs.symlink(ROOT_CTX, parent, name, target);
  await copyAttrs(ctx, link.ino, st, false);
}

/** Owner, then mode (chown may clear set-id bits) and times, taken from the local file. */
async function copyAttrs(ctx: TransferContext, ino: number, st: BigIntStats, withMode: boolean): Promise<void> {
  await ctx.vfs.setattr(ROOT_CTX, ino, { uid: Number(st.uid), gid: Number(st.gid) });
  await ctx.vfs.setattr(ROOT_CTX, ino, {
    ...(withMode ? { mode: Number(st.mode) & 0o7777 } : {}),
    atime: fromNs(st.atimeNs),
    mtime: fromNs(st.mtimeNs),
  });
}
