import { FsError, type ErrnoCode } from '../errors.js';
import type { ErrorBody } from './protocol.js';

/** The server refused the bearer token (expired, revoked, forged): the saved session needs a new login. */
export class SessionExpiredError extends FsError {
  constructor(url: string) {
    super('EACCES', `session expired for ${url}: run mosaicfs login ${url} --user NAME`);
    this.name = 'SessionExpiredError';
  }
}

/** Too many failed logins: the server asks to wait `retryAfterSec` seconds. */
export class ThrottledError extends Error {
  readonly retryAfterSec: number;
  constructor(retryAfterSec: number) {
    super(`too many failed logins: wait ${retryAfterSec} s before trying again`);
    this.name = 'ThrottledError';
    this.retryAfterSec = retryAfterSec;
  }
}

/** The server could not be reached (or kept failing) for the whole retry budget. */
export class ServerUnreachableError extends FsError {
  constructor(url: string, detail: string) {
    super('EIO', `server ${url} unreachable: ${detail}`);
    this.name = 'ServerUnreachableError';
  }
}

/** An error status from the server that carries no usable body, or a body we do not understand. */
export class ProtocolError extends FsError {
  readonly status: number;
  constructor(status: number, message: string, code: ErrnoCode = 'EIO') {
    super(code, `server answered ${status}: ${message}`);
    this.name = 'ProtocolError';
    this.status = status;
  }
}

const ERRNO_CODES = new Set<string>([
  'EPERM', 'ENOENT', 'EIO', 'EBADF', 'EACCES', 'EEXIST', 'EXDEV', 'ENOTDIR', 'EISDIR', 'EINVAL', 'EFBIG', 'ENOSPC',
  'EROFS', 'EMLINK', 'ENAMETOOLONG', 'ENOTEMPTY', 'ELOOP', 'ENODATA', 'ERANGE', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP',
  'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'E2BIG', 'ENXIO', 'EOVERFLOW', 'ENOTCONN',
]);

/**
 * The FsError an error answer stands for: MetaStore codes come back as the same FsError (the message
 * keeps the server's text without repeating the code), protocol-level codes become the nearest errno.
 */
export function errorFromBody(status: number, body: unknown): FsError {
  const err = (body as Partial<ErrorBody> | null)?.error;
  if (!err || typeof err.code !== 'string') return new ProtocolError(status, typeof body === 'string' ? body.slice(0, 200) : 'no error body');
  const message = stripCode(err.code, typeof err.message === 'string' ? err.message : '');
  if (ERRNO_CODES.has(err.code)) return new FsError(err.code as ErrnoCode, message || undefined);
  switch (err.code) {
    case 'EBADREQ':
      return new ProtocolError(status, message, 'EINVAL');
    case 'EAUTH':
      return new ProtocolError(status, message, 'EACCES');
    default:
      return new ProtocolError(status, `${err.code} ${message}`);
  }
}

/** FsError messages read "ENOENT: detail"; the server sends err.message whole, so drop the prefix once. */
function stripCode(code: string, message: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message === code ? '' : message;
}
