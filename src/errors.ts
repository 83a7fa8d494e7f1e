import { constants } from 'node:os';

/** POSIX error codes the file system reports. */
export type ErrnoCode =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EACCES' | 'EEXIST' | 'EXDEV' | 'ENOTDIR'
  | 'EISDIR' | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'EROFS' | 'EMLINK' | 'ENAMETOOLONG'
  | 'ENOTEMPTY' | 'ELOOP' | 'ENODATA' | 'ERANGE' | 'ENOSYS' | 'ENOTSUP' | 'EOPNOTSUPP'
  | 'EAGAIN' | 'EBUSY' | 'ETIMEDOUT' | 'E2BIG' | 'ENXIO' | 'EOVERFLOW' | 'ENOTCONN';

/** MOSAICFS_DEBUG=1 (the CLI then prints stacks): every FsError keeps its stack trace. */
const STACKS_FOR_ALL = process.env.MOSAICFS_DEBUG === '1';

/**
 * A file system error that maps to one errno. Every layer throws these (or the typed subclasses below).
 * Most are answers, not faults (ENOENT from a lookup, EEXIST, ENOTEMPTY...): a plain FsError with
 * any code but EIO is built without a stack trace, which would cost more than the operation that
 * throws it. EIO and the subclasses (IntegrityError, ...) keep theirs: those are worth debugging
 * (all of them do with MOSAICFS_DEBUG=1).
 */
export class FsError extends Error {
  readonly code: ErrnoCode;
  constructor(code: ErrnoCode, message?: string) {
    const limit = Error.stackTraceLimit;
    if (!STACKS_FOR_ALL && new.target === FsError && code !== 'EIO') Error.stackTraceLimit = 0;
    try {
      super(message ? `${code}: ${message}` : code);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'FsError';
    this.code = code;
  }
}

/** A stored block failed authentication (tampered, truncated, or not what its id says). Reported as EIO. */
export class IntegrityError extends FsError {
  readonly blockId: string;
  constructor(blockId: string, detail: string) {
    super('EIO', `block ${blockId} failed integrity check: ${detail}`);
    this.name = 'IntegrityError';
    this.blockId = blockId;
  }
}

/** A block the metadata references is missing from the block store. Reported as EIO. */
export class BlockNotFoundError extends FsError {
  readonly blockId: string;
  constructor(blockId: string) {
    super('EIO', `block ${blockId} not found`);
    this.name = 'BlockNotFoundError';
    this.blockId = blockId;
  }
}

/** The passphrase or key file does not unwrap the volume key. */
export class WrongPassphraseError extends Error {
  constructor() {
    super('wrong passphrase or key file: the volume key could not be unwrapped');
    this.name = 'WrongPassphraseError';
  }
}

/** A volume folder is missing, not initialised, corrupt, locked, or of an unknown format. */
export class VolumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** The one place where errors become errno numbers (positive, as in errno.h). */
export function toErrno(err: unknown): number {
  if (err instanceof FsError) return errnoOf(err.code);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in constants.errno) return errnoOf(code as ErrnoCode);
  return errnoOf('EIO');
}

export function errnoOf(code: ErrnoCode): number {
  const n = (constants.errno as Record<string, number>)[code];
  return n ?? (constants.errno as Record<string, number>).EIO;
}

export function isFsError(err: unknown, code?: ErrnoCode): err is FsError {
  return err instanceof FsError && (code === undefined || err.code === code);
}
