import { constants } from 'node:os';
import { FsError, type ErrnoCode } from '../errors.js';
import { log } from '../util/log.js';

/**
 * Every VFS op ends in an FsError: FsErrors pass through, errors carrying a known errno code
 * (node:fs failures such as ENOSPC) keep it, anything else is a bug or a broken part: logged, EIO.
 */
export function asFsError(op: string, err: unknown): FsError {
  if (err instanceof FsError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && code in constants.errno) return new FsError(code as ErrnoCode, `${op}: ${message}`);
  log.error({ err, op }, 'unexpected error in VFS operation');
  return new FsError('EIO', `${op}: ${message}`);
}
