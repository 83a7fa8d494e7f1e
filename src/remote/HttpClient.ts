import { randomUUID } from 'node:crypto';
import { Client, Pool, type Dispatcher } from 'undici';
import { log } from '../util/log.js';
import { CLIENT_HEADER, REQUEST_HEADER } from './protocol.js';
export { LEASE_GRANTED_HEADER, LEASE_ON_CREATE_HEADER, REQUEST_HEADER } from './protocol.js';
import { LatencyStats } from './LatencyStats.js';
import { errorFromBody, ServerUnreachableError, SessionExpiredError } from './remoteErrors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';

export interface HttpClientOptions {
  /** Server origin, http://host:port or https://host:port. */
  url: string;
  token?: string | null;
  /** Owner of leases and origin of change events; default a random UUID. */
  clientId?: string;
  /** PEM of the CA that signed an https server's certificate (for self-signed deployments). */
  ca?: string | Buffer;
  /** How long a request keeps retrying while the server is unreachable or restarting (default 60 s). */
  retryForMs?: number;
  /** Keep-alive connections to the server (default 16). */
  connections?: number;
  /** On a 401: a fresh token if the saved session changed (someone ran `mosaicfs login`), else null. */
  refreshToken?: () => Promise<string | null>;
  /** Called before each attempt of each request (request counting in tests and benchmarks). */
  onRequest?: (req: HttpRequest) => void;
  /** Called with each answer's headers (before the caller sees the answer). */
  onResponse?: (res: HttpResponse) => void;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

export interface HttpRequest {
  method: HttpMethod;
  path: string;
  /** A JSON body (already wire-encoded by the caller). */
  json?: unknown;
  /** A raw body (blocks). */
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** Send the token (default true). */
  auth?: boolean;
  /**
   * May the request be sent again after the server may already have applied it (default true)?
   * A non-idempotent request is retried only when it provably never reached the server: the
   * connection was refused or timed out while connecting, or the server answered 503 (shutting down,
   * it processes nothing more). Otherwise an ambiguous failure is EIO at once. Every attempt carries
   * the same X-Mosaicfs-Request id so a server may deduplicate in the future.
   */
  idempotent?: boolean;
  /** Statuses returned to the caller instead of becoming errors (e.g. 404 for a block lookup). */
  accept?: number[];
  /** Override of the retry budget for this request (ms). */
  retryForMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpTraffic {
  bytesUp: number;
  bytesDown: number;
  requests: number;
  retries: number;
}

const DEFAULT_RETRY_MS = 60_000;
const MAX_BACKOFF_MS = 2_000;
/** Errors raised before any byte of the request could have reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/** Errors of a connection that broke mid-request: the server may or may not have applied it. */
const BROKEN_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * HTTP to one mosaicfs server: keep-alive pool (undici), bearer token and client id on every
 * request, error answers turned back into FsError, 401 -> re-read the saved session once, and
 * bounded retries with exponential backoff while the server restarts.
 */
export class HttpClient {
  readonly url: string;
  readonly clientId: string;
  readonly latency = new LatencyStats();
  readonly traffic: HttpTraffic = { bytesUp: 0, bytesDown: 0, requests: 0, retries: 0 };
  private token: string | null;
  private readonly pool: Pool;
  private readonly retryForMs: number;
  private readonly ca?: string | Buffer;
  private readonly refreshToken?: () => Promise<string | null>;
  private readonly onRequest?: (req: HttpRequest) => void;
  private readonly onResponse?: (res: HttpResponse) => void;
  private readonly headers: Record<string, string>;
  private closed = false;
  private expiredLogged = false;

  constructor(opts: HttpClientOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${opts.url}`);
    this.url = u.origin;
    this.clientId = opts.clientId ?? randomUUID();
    this.token = opts.token ?? null;
    this.retryForMs = opts.retryForMs ?? DEFAULT_RETRY_MS;
    this.ca = opts.ca;
    this.refreshToken = opts.refreshToken;
    this.onRequest = opts.onRequest;
    this.onResponse = opts.onResponse;
    this.headers = opts.headers ?? {};
    this.pool = new Pool(this.url, {
      connections: opts.connections ?? 16,
      // One request at a time per connection: a slow call never delays another queued behind it.
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      connect: this.ca ? { ca: this.ca } : undefined,
    });
  }

  setToken(token: string | null): void {
    this.token = token;
    this.expiredLogged = false;
  }

  get hasToken(): boolean {
    return this.token !== null;
  }

  /** A JSON request; returns the parsed body (null for an empty one). */
  async json<T>(method: HttpMethod, path: string, body?: unknown, opts: Omit<HttpRequest, 'method' | 'path' | 'json'> = {}): Promise<T> {
    const res = await this.request({ ...opts, method, path, json: body });
    return (res.body.length === 0 ? null : JSON.parse(res.body.toString('utf8'))) as T;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const requestId = randomUUID();
    const deadline = Date.now() + (req.retryForMs ?? this.retryForMs);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new ServerUnreachableError(this.url, 'client closed');
      let res: HttpResponse;
      try {
        res = await this.once(req, requestId);
      } catch (err) {
        const code = errCode(err);
        const retryable = NOT_SENT_CODES.has(code) || ((req.idempotent ?? true) && BROKEN_CODES.has(code));
        if (!retryable || Date.now() >= deadline) {
          if (!NOT_SENT_CODES.has(code) && !BROKEN_CODES.has(code)) throw err;
          throw new ServerUnreachableError(this.url, `${code || (err as Error).message}${retryable ? ' (gave up retrying)' : ' (the request may or may not have been applied)'}`);
        }
        await this.backoff(attempt, code);
        continue;
      }
      if (req.accept?.includes(res.status) || (res.status >= 200 && res.status < 300)) return res;
      if (res.status === 503 && Date.now() < deadline) {
        await this.backoff(attempt, '503');
        continue;
      }
      if (res.status === 401 && (req.auth ?? true)) {
        if (!refreshed && this.refreshToken) {
          refreshed = true;
          const fresh = await this.refreshToken().catch(() => null);
          if (fresh && fresh !== this.token) {
            this.token = fresh;
            attempt = -1;
            continue;
          }
        }
        if (!this.expiredLogged) {
          this.expiredLogged = true;
          log.error({ server: this.url }, 'session expired: run mosaicfs login');
        }
        throw new SessionExpiredError(this.url);
      }
      throw errorFromBody(res.status, parseBody(res));
    }
  }

  /**
   * A long-lived streaming GET (server-sent events) on its own connection, so it never holds a
   * pool slot. The caller reads `body` and calls `close()`.
   */
  async openStream(path: string, idleTimeoutMs: number): Promise<{ status: number; body: Dispatcher.ResponseData['body']; close: () => void }> {
    const client = new Client(this.url, { connect: this.ca ? { ca: this.ca } : undefined, bodyTimeout: idleTimeoutMs, headersTimeout: idleTimeoutMs });
    try {
      const res = await client.request({ method: 'GET', path, headers: { ...this.authHeaders(), accept: 'text/event-stream' } });
      const close = () => {
        res.body.destroy();
        client.destroy().catch(() => {});
      };
      return { status: res.statusCode, body: res.body, close };
    } catch (err) {
      client.destroy().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close().catch(() => this.pool.destroy());
  }

  private authHeaders(): Record<string, string> {
    const h: Record<string, string> = { [CLIENT_HEADER]: this.clientId };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  private async once(req: HttpRequest, requestId: string): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...this.headers, [REQUEST_HEADER]: requestId, ...(req.headers ?? {}) };
    if (req.auth ?? true) Object.assign(headers, this.authHeaders());
    else headers[CLIENT_HEADER] = this.clientId;
    let body: Buffer | Uint8Array | undefined;
    if (req.json !== undefined) {
      body = Buffer.from(JSON.stringify(req.json));
      headers['content-type'] = 'application/json';
    } else if (req.body !== undefined) {
      body = req.body;
      headers['content-type'] = 'application/octet-stream';
    }
    const started = performance.now();
    this.traffic.requests++;
    this.onRequest?.(req);
    const res = await this.pool.request({ method: req.method, path: req.path, headers, body });
    const buf = await readAll(res.body);
    this.latency.add(performance.now() - started);
    this.traffic.bytesUp += body?.length ?? 0;
    this.traffic.bytesDown += buf.length;
    const out = { status: res.statusCode, headers: res.headers, body: buf };
    this.onResponse?.(out);
    return out;
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    this.traffic.retries++;
    const ms = Math.min(MAX_BACKOFF_MS, 50 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    if (attempt === 3) log.warn({ server: this.url, why }, 'server unreachable: retrying');
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** The whole body (events, not an async iterator: this runs once per request). */
function readAll(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('error', reject);
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
}

function parseBody(res: HttpResponse): unknown {
  const text = res.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.cause?.code === 'string' && NOT_SENT_CODES.has(e.cause.code)) return e.cause.code;
  return typeof e?.code === 'string' ? e.code : '';
}
