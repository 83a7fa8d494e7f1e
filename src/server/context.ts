import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CLIENT_HEADER } from '../remote/protocol.js';
import type { AccountStore, UserRecord } from './AccountStore.js';
import type { Coordinator } from './Coordinator.js';
import { HttpError } from './httpErrors.js';
import type { LoginThrottle } from './LoginThrottle.js';
import type { PendingPurges } from './PendingPurges.js';
import type { UserSpace, UserSpaces } from './UserSpaces.js';

/** Everything route handlers share. */
export interface ServerContext {
  accounts: AccountStore;
  coordinator: Coordinator;
  spaces: UserSpaces;
  throttle: LoginThrottle;
  purges: PendingPurges;
  serverSecret: Buffer;
  tokenTtlMs: number;
  /** Keep-alive comment interval of event streams. */
  ssePingMs: number;
  log: Logger;
  /** Event streams currently open: ended on shutdown. */
  streams: Set<() => void>;
  /** Set when a graceful close begins: new requests get 503 ESHUTDOWN. */
  closing: boolean;
  /** Throttles Coordinator.touch per client (a database write on PostgreSQL). */
  touches: TouchThrottle;
}

/** An authenticated request: the token's user, and the client id when the request carried one. */
export interface Session {
  user: UserRecord;
  tokenHash: string;
  expiresAt: number;
  clientId: string | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 401 for a missing, malformed, expired or unknown token; 403 for a disabled user; touches the client. */
export async function authenticate(ctx: ServerContext, req: FastifyRequest): Promise<Session> {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(header) : null;
  if (!m) throw new HttpError(401, 'EAUTH', 'missing or malformed bearer token', { 'www-authenticate': 'Bearer' });
  const hash = tokenHash(m[1]!);
  const token = await ctx.accounts.getToken(hash, Date.now());
  if (!token) throw new HttpError(401, 'EAUTH', 'invalid or expired token', { 'www-authenticate': 'Bearer' });
  const user = await ctx.accounts.getUserById(token.userId);
  if (!user) throw new HttpError(401, 'EAUTH', 'invalid or expired token', { 'www-authenticate': 'Bearer' });
  if (user.disabled) throw new HttpError(403, 'EAUTH', 'this account is disabled');
  const clientId = clientIdOf(req);
  if (clientId && ctx.touches.due(user.id, clientId)) await ctx.coordinator.touch(user.id, clientId);
  return { user, tokenHash: hash, expiresAt: token.expiresAt, clientId };
}

/**
 * Coordinator.touch at most once per `intervalMs` per client: a client's liveness is then at most
 * that much older than its last request, which is far below the lease TTL (the interval is a tenth
 * of it, and at most 1 s).
 */
export class TouchThrottle {
  private readonly last = new Map<string, number>();

  constructor(readonly intervalMs: number, private readonly clock: () => number = Date.now) {}

  due(userId: string, clientId: string): boolean {
    const key = `${userId}/${clientId}`;
    const t = this.clock();
    const prev = this.last.get(key);
    if (prev !== undefined && t - prev < this.intervalMs && t >= prev) return false;
    if (this.last.size >= 100_000) this.last.clear();
    this.last.set(key, t);
    return true;
  }

  /** The client was dropped (logout): its next request touches again at once. */
  forget(userId: string, clientId: string): void {
    this.last.delete(`${userId}/${clientId}`);
  }
}

/** The X-Mosaicfs-Client header: null when absent, 400 when malformed. */
export function clientIdOf(req: FastifyRequest): string | null {
  const v = req.headers[CLIENT_HEADER];
  if (v === undefined) return null;
  if (typeof v !== 'string' || !UUID_RE.test(v)) throw new HttpError(400, 'EBADREQ', `${CLIENT_HEADER} must be a UUID`);
  return v.toLowerCase();
}

export function requireClientId(s: Session): string {
  if (!s.clientId) throw new HttpError(400, 'EBADREQ', `this route needs the ${CLIENT_HEADER} header (a UUID)`);
  return s.clientId;
}

/** Run fn in the session user's own namespace. */
export function inSpace<T>(ctx: ServerContext, s: Session, fn: (space: UserSpace) => Promise<T>): Promise<T> {
  return ctx.spaces.use(s.user.id, s.user.blockSize, fn);
}
