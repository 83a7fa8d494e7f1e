import { FsError } from '../errors.js';

/** The command line was wrong (bad option value, bad path syntax, wrong operand count): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The failure was already reported on stderr (e.g. per-operand errors); only the exit code remains. */
export class ReportedFailure extends Error {
  readonly exitCode: number;
  constructor(exitCode = 1) {
    super(`failed with exit code ${exitCode}`);
    this.name = 'ReportedFailure';
    this.exitCode = exitCode;
  }
}

const STRERROR: Partial<Record<string, string>> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'file name too long',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'device or resource busy',
  EXDEV: 'cross-device link',
  EMLINK: 'too many links',
};

/** One line describing an error for a human: no stack, the errno code kept when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof FsError && err.message === err.code) {
    const text = STRERROR[err.code];
    return text ? `${text} (${err.code})` : err.code;
  }
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
