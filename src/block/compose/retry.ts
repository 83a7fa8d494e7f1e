/**
 * Transient backend failures and the one retry loop used for them (block uploads, block reads).
 *
 * A backend says "try again later" with a network error (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...),
 * an FsError with code EAGAIN / ETIMEDOUT / ENOTCONN, an HTTP 5xx or 429 (AWS SDK `$metadata`,
 * `statusCode`/`status` fields, also on an FsError('EIO') or its `cause`), or an error flagged
 * `transient: true`. Everything else (a missing
 * block, an integrity failure, ENOSPC, a rejected token, a bug) is final and not retried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockNotFoundError, FsError, IntegrityError } from '../../errors.js';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EHOSTDOWN', 'EAI_AGAIN', 'EAGAIN', 'ENOTCONN', 'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

export function isTransient(err: unknown): boolean {
  if (err instanceof BlockNotFoundError || err instanceof IntegrityError) return false;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; transient?: unknown; status?: unknown; statusCode?: unknown; $metadata?: { httpStatusCode?: unknown }; name?: unknown; cause?: unknown };
  if (e.transient === true) return true;
  if (err instanceof FsError) {
    if (e.code === 'EAGAIN' || e.code === 'ETIMEDOUT' || e.code === 'ENOTCONN') return true;
    if (e.code !== 'EIO') return false; // ENOSPC, EACCES, ...: final
    // An EIO wrapping a transient cause (e.g. an S3 503 after the SDK's own retries) stays transient.
  }
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode ?? e.statusCode ?? e.status;
  if (typeof status === 'number' && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

export interface RetryPolicy {
  /** Give up (throw the last error as EIO) once this long has passed since the first attempt. */
  deadlineMs: number;
  /** First backoff delay; doubles up to maxDelayMs, with +-25% jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Thrown when a transient failure outlasted the deadline: EIO with the cause in the message. */
export class BackendUnavailableError extends FsError {
  constructor(what: string, ms: number, cause: unknown) {
    super('EIO', `${what}: block store still failing after ${Math.round(ms)} ms (${(cause as Error)?.message ?? String(cause)})`);
    this.name = 'BackendUnavailableError';
    this.cause = cause;
  }
}

/**
 * Run `attempt` until it succeeds, a final (non-transient) error occurs (rethrown as is), or the
 * deadline passes (BackendUnavailableError). `stopped` ends the loop early (e.g. on close).
 */
export async function retryTransient<T>(
  what: string,
  policy: RetryPolicy,
  attempt: () => Promise<T>,
  stopped: () => boolean = () => false,
): Promise<T> {
  const start = performance.now();
  let delay = policy.baseDelayMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const elapsed = performance.now() - start;
      if (elapsed >= policy.deadlineMs || stopped()) throw new BackendUnavailableError(what, elapsed, err);
      const wait = Math.min(delay * (0.75 + Math.random() * 0.5), policy.deadlineMs - elapsed);
      await sleep(Math.max(1, wait));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}

/** A policy from an environment variable holding the deadline in ms (a daemon's knob), else the default. */
export function policyFromEnv(envName: string, fallback: RetryPolicy): RetryPolicy {
  const raw = process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${envName} must be a number of milliseconds, got ${JSON.stringify(raw)}`);
  return { ...fallback, deadlineMs: ms };
}
