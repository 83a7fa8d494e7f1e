import { FsError } from '../errors.js';
import { S_IFDIR, S_IFMT, S_ISGID, S_ISVTX, type InodeAttr } from '../meta/MetaStore.js';
import type { Ctx } from './types.js';

/** access(2) mask bits. */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

export function isRoot(ctx: Ctx): boolean {
  return ctx.uid === 0;
}

export function isDir(attr: Pick<InodeAttr, 'mode'>): boolean {
  return (attr.mode & S_IFMT) === S_IFDIR;
}

/** Is the caller in this group (primary or supplementary)? */
export function inGroup(ctx: Ctx, gid: number): boolean {
  return ctx.gid === gid || (ctx.groups?.includes(gid) ?? false);
}

export function isOwnerOrRoot(ctx: Ctx, attr: InodeAttr): boolean {
  return isRoot(ctx) || ctx.uid === attr.uid;
}

/**
 * Does the caller have every right in `mask` (R_OK|W_OK|X_OK) on the inode? Owner, group (with
 * supplementary groups) or other bits, exactly one class applies. Root bypasses read and write;
 * for execute it needs an x bit somewhere, except on directories (search).
 */
export function permits(ctx: Ctx, attr: InodeAttr, mask: number): boolean {
  if (mask === 0) return true;
  if (isRoot(ctx)) {
    if ((mask & X_OK) === 0 || isDir(attr)) return true;
    return (attr.mode & 0o111) !== 0;
  }
  let bits: number;
  if (ctx.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (inGroup(ctx, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}

/** EACCES unless permits(). */
export function checkPermission(ctx: Ctx, attr: InodeAttr, mask: number): void {
  if (!permits(ctx, attr, mask)) {
    throw new FsError('EACCES', `permission denied (mask ${mask}) on inode ${attr.ino}`);
  }
}

/** Search permission on a directory being walked (ENOTDIR if it is not one). */
export function checkSearch(ctx: Ctx, dir: InodeAttr): void {
  if (!isDir(dir)) throw new FsError('ENOTDIR', `inode ${dir.ino} is not a directory`);
  checkPermission(ctx, dir, X_OK);
}

/** Write and search on a directory whose entries change (create, unlink, rename...). */
export function checkDirWrite(ctx: Ctx, dir: InodeAttr): void {
  checkPermission(ctx, dir, W_OK | X_OK);
}

/**
 * Removing or renaming `victim` out of `dir`: write+search on dir, and in a sticky directory
 * only the victim's owner, the directory's owner or root may do it (EPERM).
 */
export function checkDelete(ctx: Ctx, dir: InodeAttr, victim: InodeAttr): void {
  checkDirWrite(ctx, dir);
  if ((dir.mode & S_ISVTX) !== 0 && !isRoot(ctx) && ctx.uid !== victim.uid && ctx.uid !== dir.uid) {
    throw new FsError('EPERM', `sticky directory ${dir.ino}: not the owner of inode ${victim.ino}`);
  }
}

/**
 * Owner, group and mode of a new inode (inode_init_owner): the caller's uid; the caller's gid, or
 * the parent's gid when the parent is setgid, in which case new directories inherit S_ISGID and a
 * new setgid+group-exec file loses S_ISGID unless the caller is in that group or root.
 */
export function newInodeOwner(ctx: Ctx, parent: InodeAttr, mode: number): { uid: number; gid: number; mode: number } {
  if ((parent.mode & S_ISGID) === 0) return { uid: ctx.uid, gid: ctx.gid, mode };
  const gid = parent.gid;
  if (isDir({ mode })) return { uid: ctx.uid, gid, mode: mode | S_ISGID };
  const sgidExec = S_ISGID | 0o010;
  if ((mode & sgidExec) === sgidExec && !isRoot(ctx) && !inGroup(ctx, gid)) mode &= ~S_ISGID;
  return { uid: ctx.uid, gid, mode };
}
