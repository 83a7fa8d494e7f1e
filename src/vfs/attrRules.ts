import { FsError } from '../errors.js';
import { S_IFMT, S_IFREG, S_ISGID, S_ISUID, type AttrChanges, type InodeAttr, type Timespec } from '../meta/MetaStore.js';
import { MAX_FILE_SIZE } from './limits.js';
import { checkPermission, inGroup, isDir, isOwnerOrRoot, isRoot, W_OK } from './permissions.js';
import type { Ctx, SetAttr } from './types.js';

const SGID_EXEC = S_ISGID | 0o010;

/**
 * The mode after a write or truncate of a file (`mode`, group `gid`) by `ctx` (file_remove_privs,
 * setattr_should_drop_sgid): anyone but root drops S_ISUID, and S_ISGID when group-exec is set or
 * when not in the file's group. Returns null when nothing changes.
 */
export function modeAfterWrite(ctx: Ctx, mode: number, gid: number): number | null {
  if (isRoot(ctx)) return null;
  let next = dropSetIds(mode);
  if ((next & S_ISGID) !== 0 && !inGroup(ctx, gid)) next &= ~S_ISGID;
  return next === mode ? null : next;
}

function dropSetIds(mode: number): number {
  let next = mode & ~S_ISUID;
  if ((mode & SGID_EXEC) === SGID_EXEC) next &= ~S_ISGID;
  return next;
}

/** uid/gid values that mean "leave unchanged" (chown's -1, as int or uint32). */
function isSet(id: number | undefined): id is number {
  return id !== undefined && id !== -1 && id !== 0xffffffff;
}

export interface SetattrPlan {
  /** Metadata changes for meta.setattr (ctime always bumps), or null if only the size changes. */
  changes: AttrChanges | null;
  /** New size to apply through the data layer, if any. */
  size?: number;
  /** Truncate or chown of a regular file: security.capability goes (Linux cap_inode_killpriv). */
  killsCapability: boolean;
}

/**
 * Check a setattr against Linux's rules (setattr_prepare, chown_ok, utimes) and compute the
 * changes. `viaWritableHandle`: the size change comes from ftruncate on a handle open for writing
 * (no permission check then; the Vfs rejects read-only handles itself).
 */
export function planSetattr(ctx: Ctx, attr: InodeAttr, set: SetAttr, now: Timespec, viaWritableHandle: boolean): SetattrPlan {
  const changes: AttrChanges = { ctime: now };
  let touched = false;
  let mode = attr.mode;
  let modeChanged = false;

  if (set.size !== undefined) {
    checkSize(attr, set.size);
    if (!viaWritableHandle) checkPermission(ctx, attr, W_OK);
    const dropped = modeAfterWrite(ctx, mode, attr.gid);
    if (dropped !== null) { mode = dropped; modeChanged = true; }
  }

  if (set.mode !== undefined) {
    if (!isOwnerOrRoot(ctx, attr)) throw new FsError('EPERM', `chmod: not the owner of inode ${attr.ino}`);
    mode = (attr.mode & S_IFMT) | (set.mode & 0o7777);
    const gid = isSet(set.gid) ? set.gid : attr.gid;
    if (!isRoot(ctx) && !inGroup(ctx, gid)) mode &= ~S_ISGID;
    modeChanged = true;
  }

  const chownUid = isSet(set.uid);
  const chownGid = isSet(set.gid);
  if (chownUid) {
    const uid = set.uid as number;
    if (!isRoot(ctx) && !(ctx.uid === attr.uid && uid === attr.uid)) {
      throw new FsError('EPERM', `chown: only root may change the owner of inode ${attr.ino}`);
    }
    changes.uid = uid;
    touched = true;
  }
  if (chownGid) {
    const gid = set.gid as number;
    if (!isRoot(ctx) && !(ctx.uid === attr.uid && (gid === attr.gid || inGroup(ctx, gid)))) {
      throw new FsError('EPERM', `chgrp: not allowed to give inode ${attr.ino} group ${gid}`);
    }
    changes.gid = gid;
    touched = true;
  }
  if ((chownUid || chownGid) && !isDir(attr)) {
    // chown of a non-directory drops set-id bits, even for root (Linux chown_common).
    const gid = chownGid ? (set.gid as number) : attr.gid;
    let next = dropSetIds(mode);
    if ((next & S_ISGID) !== 0 && !isRoot(ctx) && !inGroup(ctx, gid)) next &= ~S_ISGID;
    if (next !== mode) { mode = next; modeChanged = true; }
  }

  if (set.atime !== undefined || set.mtime !== undefined) {
    checkTimes(ctx, attr, set);
    if (set.atime !== undefined) changes.atime = set.atime === 'now' ? now : set.atime;
    if (set.mtime !== undefined) changes.mtime = set.mtime === 'now' ? now : set.mtime;
    touched = true;
  }

  if (modeChanged) { changes.mode = mode; touched = true; }
  const onlySize = set.size !== undefined && !touched;
  const killsCapability = (attr.mode & S_IFMT) === S_IFREG && (set.size !== undefined || chownUid || chownGid);
  return { changes: onlySize ? null : changes, size: set.size, killsCapability };
}

function checkSize(attr: InodeAttr, size: number): void {
  if (isDir(attr)) throw new FsError('EISDIR', `inode ${attr.ino} is a directory`);
  if ((attr.mode & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', `inode ${attr.ino} is not a regular file`);
  if (!Number.isInteger(size) || size < 0) throw new FsError('EINVAL', `invalid size ${size}`);
  if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `size ${size} beyond the largest file size`);
}

/**
 * utimensat rules: both times 'now' (touch) needs ownership or write permission (EACCES);
 * anything else sets times explicitly and needs ownership (EPERM). Root may do both.
 */
function checkTimes(ctx: Ctx, attr: InodeAttr, set: SetAttr): void {
  if (isOwnerOrRoot(ctx, attr)) return;
  if (set.atime === 'now' && set.mtime === 'now') {
    checkPermission(ctx, attr, W_OK);
    return;
  }
  throw new FsError('EPERM', `utimens: not the owner of inode ${attr.ino}`);
}
