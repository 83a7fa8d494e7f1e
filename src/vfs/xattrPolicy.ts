import { FsError } from '../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISVTX, type InodeAttr } from '../meta/MetaStore.js';
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

/** listxattr shows trusted.* names to root only. */
export function xattrVisible(ctx: Ctx, name: string): boolean {
  return isRoot(ctx) || !name.startsWith('trusted.');
}
