import { FsError } from '../errors.js';

/** Longest directory entry name, in UTF-8 bytes (NAME_MAX). */
export const NAME_MAX = 255;
/** Longest symlink target, in UTF-8 bytes (PATH_MAX - 1). */
export const SYMLINK_MAX = 4095;
/** Most hard links an inode may have (also the most subdirectories + 2 a directory may have). */
export const LINK_MAX = 65000;

/**
 * Check one directory entry name: '' / '.' / '..' or names containing '/' or NUL are EINVAL,
 * names over NAME_MAX UTF-8 bytes are ENAMETOOLONG.
 */
export function validateName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..') {
    throw new FsError('EINVAL', `invalid name ${JSON.stringify(name)}`);
  }
  if (name.includes('/') || name.includes('\0')) {
    throw new FsError('EINVAL', `name contains '/' or NUL: ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) {
    throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
  }
}

/** Check a symlink target as symlink(2) does: empty is ENOENT, over SYMLINK_MAX bytes ENAMETOOLONG. */
export function validateSymlinkTarget(target: string | undefined): asserts target is string {
  if (typeof target !== 'string' || target === '') {
    throw new FsError('ENOENT', 'empty symlink target');
  }
  if (target.includes('\0')) throw new FsError('EINVAL', 'symlink target contains NUL');
  if (Buffer.byteLength(target, 'utf8') > SYMLINK_MAX) {
    throw new FsError('ENAMETOOLONG', `symlink target longer than ${SYMLINK_MAX} bytes`);
  }
}
