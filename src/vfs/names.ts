import { FsError } from '../errors.js';
import { NAME_MAX } from '../meta/names.js';

export { validateSymlinkTarget } from '../meta/names.js';

export type NameKind = 'normal' | 'dot' | 'dotdot';

/**
 * Check a directory entry name coming from a caller: '' or names with '/' or NUL are EINVAL,
 * more than NAME_MAX UTF-8 bytes ENAMETOOLONG. '.' and '..' are valid names to look up; each
 * operation decides what they mean for it, so the kind is returned.
 */
export function checkName(name: string): NameKind {
  if (typeof name !== 'string' || name === '') throw new FsError('EINVAL', 'empty name');
  if (name.includes('/') || name.includes('\0')) {
    throw new FsError('EINVAL', `name contains '/' or NUL: ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
  if (name === '.') return 'dot';
  if (name === '..') return 'dotdot';
  return 'normal';
}
