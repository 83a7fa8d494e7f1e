import { FsError } from '../../errors.js';

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function shape(err: unknown): SdkErrorShape {
  return (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
}

export function httpStatusOf(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

/** The object is absent (GET answers NoSuchKey, HEAD a bare 404); a missing bucket is not "absent". */
export function isNoSuchKey(err: unknown): boolean {
  const { name } = shape(err);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatusOf(err) === 404;
}

/** 416: a Range that starts at or past the end of the object. */
export function isInvalidRange(err: unknown): boolean {
  return shape(err).name === 'InvalidRange' || httpStatusOf(err) === 416;
}

export function isTimeout(err: unknown): boolean {
  const { name, code } = shape(err);
  return name === 'TimeoutError' || code === 'ETIMEDOUT';
}

/**
 * A request to S3 failed after the retries (or could not be retried). ETIMEDOUT when the last
 * attempt timed out, EIO otherwise; the SDK's error is the cause.
 */
export class S3RequestError extends FsError {
  readonly status: number | undefined;
  constructor(readonly operation: string, readonly key: string, cause: unknown) {
    const timedOut = isTimeout(cause);
    const status = httpStatusOf(cause);
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(timedOut ? 'ETIMEDOUT' : 'EIO', `S3 ${operation} ${key} failed${status ? ` (HTTP ${status})` : ''}${timedOut ? ' (timed out)' : ''}: ${detail}`);
    this.name = 'S3RequestError';
    this.status = status;
    this.cause = cause;
  }
}

/** A GET reply whose body does not match its headers (short, long, cut off, or a range other than asked). */
export class S3BodyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3BodyError';
  }
}
