import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type InodeAttr, type Timespec } from '../../meta/MetaStore.js';
import { ROOT_CTX, type VfsApi } from '../../vfs/types.js';
import { joinPath, listDir } from '../vfsPaths.js';
import { PIECE_BYTES, tryItem, warnSkipped, type TransferContext } from './common.js';

/** Bytes of regular files under a volume inode, for the progress total. */
export async function remoteTreeBytes(vfs: VfsApi, attr: InodeAttr): Promise<number> {
  const type = attr.mode & S_IFMT;
  if (type === S_IFREG) return attr.size;
  if (type !== S_IFDIR) return 0;
  let total = 0;
  for (const e of await listDir(vfs, attr.ino)) {
    if ((e.mode & S_IFMT) === S_IFREG || (e.mode & S_IFMT) === S_IFDIR) {
      total += await remoteTreeBytes(vfs, await vfs.getattr(ROOT_CTX, e.ino));
    }
  }
  return total;
}

/** Copy a volume file, directory (recursively) or symlink at `remote` to the local path `local`. */
export async function getEntry(ctx: TransferContext, attr: InodeAttr, remote: string, local: string): Promise<void> {
  switch (attr.mode & S_IFMT) {
    case S_IFREG: return getFile(ctx, attr, local);
    case S_IFDIR: return getDir(ctx, attr, remote, local);
    case S_IFLNK: return getSymlink(ctx, attr, local);
    default: warnSkipped(remote, 'not a regular file, directory or symbolic link');
  }
}

/** Copy the entries of a volume directory into an existing local folder. */
export async function getDirContents(ctx: TransferContext, dir: InodeAttr, remote: string, local: string): Promise<void> {
  for (const e of await listDir(ctx.vfs, dir.ino)) {
    const childRemote = joinPath(remote, e.name);
    await tryItem(ctx, childRemote, async () => {
      await getEntry(ctx, await ctx.vfs.getattr(ROOT_CTX, e.ino), childRemote, path.join(local, e.name));
    });
  }
}

async function getFile(ctx: TransferContext, attr: InodeAttr, local: string): Promise<void> {
  const { fh } = await ctx.vfs.open(ROOT_CTX, attr.ino, fsc.O_RDONLY);
  try {
    const out = await fsp.open(local, 'w', 0o600);
    try {
      let offset = 0;
      for (;;) {
        const piece = await ctx.vfs.read(ROOT_CTX, fh, offset, PIECE_BYTES);
        if (piece.length === 0) break;
        await out.write(piece, 0, piece.length, offset);
        offset += piece.length;
        ctx.progress.add(piece.length);
      }
      await out.truncate(offset);
      await out.chmod(attr.mode & 0o7777);
      await out.utimes(seconds(attr.atime), seconds(attr.mtime));
    } finally {
      await out.close();
    }
  } finally {
    await ctx.vfs.release(ROOT_CTX, fh);
  }
}

async function getDir(ctx: TransferContext, attr: InodeAttr, remote: string, local: string): Promise<void> {
  try {
    await fsp.mkdir(local, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fsp.stat(local)).isDirectory()) throw err;
  }
  await getDirContents(ctx, attr, remote, local);
  await fsp.chmod(local, attr.mode & 0o7777);
  await fsp.utimes(local, seconds(attr.atime), seconds(attr.mtime));
}

async function getSymlink(ctx: TransferContext, attr: InodeAttr, local: string): Promise<void> {
  const target = await ctx.vfs.readlink(ROOT_CTX, attr.ino);
  await fsp.rm(local, { force: true });
  await fsp.symlink(target, local);
  await fsp.lutimes(local, seconds(attr.atime), seconds(attr.mtime));
}

function seconds(t: Timespec): number {
  return t.sec + t.nsec / 1e9;
}
