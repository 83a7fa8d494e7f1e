import { FsError } from '../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISVTX, type InodeAttr, type MetaStore, type Timespec } from '../meta/MetaStore.js';
import { XATTR_NAME_MAX, XATTR_SIZE_MAX } from './limits.js';
import { checkPermission, isOwnerOrRoot, isRoot, R_OK, W_OK } from './permissions.js';
import type { Ctx } from './types.js';

const NAMESPACES = ['user.', 'trusted.', 'security.', 'system.'] as const;

/**
 * POSIX ACLs are not implemented (permission checks use the mode bits only), so their xattrs are
 * refused as on a file system mounted without ACL support: tools then fall back to the mode bits,
 * and `ls -l` costs no metadata request for them.
 */
const POSIX_ACL_NAMES = new Set(['system.posix_acl_access', 'system.posix_acl_default']);

/**
 * ERANGE for an empty or over-long name, ENOTSUP outside the known namespaces and for POSIX ACLs,
 * EINVAL for a bare prefix.
 */
export function checkXattrName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > XATTR_NAME_MAX) throw new FsError('ERANGE', `xattr name of ${bytes} bytes`);
  const ns = NAMESPACES.find((p) => name.startsWith(p));
  if (!ns) throw new FsError('ENOTSUP', `xattr namespace of ${JSON.stringify(name)} not supported`);
  if (name.length === ns.length) throw new FsError('EINVAL', `xattr name ${JSON.stringify(name)} has no name after the namespace`);
  if (POSIX_ACL_NAMES.has(name)) throw new FsError('EOPNOTSUPP', 'POSIX ACLs are not supported');
}

export function checkXattrValue(value: Buffer): void {
  if (value.length > XATTR_SIZE_MAX) throw new FsError('E2BIG', `xattr value of ${value.length} bytes`);
}

/**
 * Linux's xattr_permission: trusted.* is root-only (EPERM to write, ENODATA to read); user.* only
 * on regular files and directories (EPERM / ENODATA otherwise), needs R or W permission, and in a
 * sticky directory writing needs ownership. security.* and system.* have no VFS check on Linux
 * (the LSM or file system decides); here reading them is free and writing needs ownership (EPERM).
 */
export function checkXattrAccess(ctx: Ctx, attr: InodeAttr, name: string, write: boolean): void {
  if (name.startsWith('trusted.')) {
    if (!isRoot(ctx)) throw new FsError(write ? 'EPERM' : 'ENODATA', 'trusted.* xattrs are for root');
    return;
  }
  if (name.startsWith('security.') || name.startsWith('system.')) {
    if (write && !isOwnerOrRoot(ctx, attr)) throw new FsError('EPERM', `${name}: not the owner of inode ${attr.ino}`);
    return;
  }
  const type = attr.mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFDIR) {
    throw new FsError(write ? 'EPERM' : 'ENODATA', 'user.* xattrs only on regular files and directories');
  }
  if (write && type === S_IFDIR && (attr.mode & S_ISVTX) !== 0 && !isOwnerOrRoot(ctx, attr)) {
    throw new FsError('EPERM', `sticky directory ${attr.ino}: user.* xattrs are the owner's`);
  }
  checkPermission(ctx, attr, write ? W_OK : R_OK);
}

/**
 * removexattr: as checkXattrAccess, except for security.capability. The kernel itself only lets a
 * caller with CAP_SETFCAP remove it (cap_inode_removexattr), and removes it on its own when a
 * non-owner writes such a file (cap_inode_killpriv, sent as that caller's REMOVEXATTR): both must
 * succeed, as on a local file system.
 */
export function checkXattrRemove(ctx: Ctx, attr: InodeAttr, name: string): void {
  if (name === CAPABILITY_XATTR) return;
  checkXattrAccess(ctx, attr, name, true);
}

/** listxattr shows trusted.* names to root only. */
export function xattrVisible(ctx: Ctx, name: string): boolean {
  return isRoot(ctx) || !name.startsWith('trusted.');
}

/** File capabilities (setcap): dropped when the file's content or owner changes. */
export const CAPABILITY_XATTR = 'security.capability';

/** Forget everything past this many inodes: a bounded memory, at the cost of one re-check each. */
const MAX_KNOWN_WITHOUT_CAPABILITY = 65_536;

/**
 * Linux's cap_inode_killpriv: a write, truncate or chown of a regular file removes its
 * security.capability, whoever the caller. With FUSE_HANDLE_KILLPRIV_V2 the kernel stops checking
 * before every write (SB_NOSEC), so the Vfs does it here. Inodes known to have none (created here,
 * or checked once) cost nothing; setxattr of the name and a revalidating open forget that.
 */
export class CapabilityKiller {
  private readonly without = new Set<number>();

  constructor(private readonly meta: Pick<MetaStore, 'getxattr' | 'removexattr'>) {}

  /** `ino` has no security.capability (e.g. it was just created). */
  knownWithout(ino: number): void {
    if (this.without.size >= MAX_KNOWN_WITHOUT_CAPABILITY) this.without.clear();
    this.without.add(ino);
  }

  /** `ino` may have gained one (setxattr, or another client: a revalidating open). */
  forget(ino: number): void {
    this.without.delete(ino);
  }

  /** Remove `ino`'s security.capability if it has one. */
  async kill(ino: number, t: Timespec): Promise<void> {
    if (this.without.has(ino)) return;
    if (await this.has(ino)) {
      try {
        await this.meta.removexattr(ino, CAPABILITY_XATTR, t);
      } catch (err) {
        if (!(err instanceof FsError && err.code === 'ENODATA')) throw err;
      }
    }
    this.knownWithout(ino);
  }

  private async has(ino: number): Promise<boolean> {
    try {
      await this.meta.getxattr(ino, CAPABILITY_XATTR);
      return true;
    } catch (err) {
      if (err instanceof FsError && err.code === 'ENODATA') return false;
      throw err;
    }
  }
}
