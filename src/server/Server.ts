import * as fs from 'node:fs/promises';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { isFsError } from '../errors.js';
import { MAX_BLOCK_BODY, MAX_JSON_BODY, statusOfErrno } from '../remote/protocol.js';
import { log as rootLog } from '../util/log.js';
import type { StoreConfig } from '../volume/config.js';
import { openBackend, type ServerBackend } from './backend.js';
import { LEASE_TTL_MS } from './Coordinator.js';
import { TouchThrottle, type ServerContext } from './context.js';
import { HttpError, sendError } from './httpErrors.js';
import { LoginThrottle, type ThrottleOptions } from './LoginThrottle.js';
import { PendingPurges } from './PendingPurges.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerBlockRoutes } from './routes/blocks.js';
import { registerEventRoutes } from './routes/events.js';
import { registerLeaseRoutes } from './routes/leases.js';
import { registerMetaRoutes } from './routes/meta.js';
import { collectAllGarbage, type ServerGcOptions } from './serverGc.js';
import { UserSpaces } from './UserSpaces.js';

export interface ServerOptions {
  dataDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7070; 0 = any free port. */
  port?: number;
  /** postgres://... for PostgreSQL metadata, users and coordination; absent = SQLite in dataDir. */
  metaUrl?: string;
  /** Default {type: 'local', path: 'blocks'} (relative to dataDir); each user gets a namespace inside. */
  store?: StoreConfig;
  tls?: { certFile: string; keyFile: string };
  /** Login token lifetime (default 30 days). */
  tokenTtlMs?: number;
  /** Garbage collection interval (default 1 hour; 0 = never). */
  gcIntervalMs?: number;
  gc?: ServerGcOptions;
  logLevel?: string;
  // ---- knobs for tests ----
  /** Lease/open TTL of the in-process coordinator (default LEASE_TTL_MS). */
  leaseTtlMs?: number;
  /** Test option: hard-link limit of the users' SQLite MetaStores (default 65000). */
  linkMax?: number;
  /** Keep-alive comments on event streams (default 15 s). */
  ssePingMs?: number;
  /** How often deferred purges are retried (default 10 s). */
  purgeSweepMs?: number;
  throttle?: ThrottleOptions;
}

export interface RunningServer {
  url: string;
  port: number;
  /** Graceful: stop accepting, finish in-flight requests, end event streams, close the stores. */
  close(): Promise<void>;
  /** The server's own stores (admin commands and tests use them; e.g. createUser). */
  backend: ServerBackend;
  spaces: UserSpaces;
}

export const DEFAULT_PORT = 7070;
export const DEFAULT_TOKEN_TTL_MS = 30 * 24 * 60 * 60_000;
export const DEFAULT_STORE: StoreConfig = { type: 'local', path: 'blocks' };

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  await fs.mkdir(opts.dataDir, { recursive: true });
  const log = rootLog.child({ component: 'server' }, opts.logLevel ? { level: opts.logLevel } : {});
  const backend = await openBackend(opts.dataDir, opts.metaUrl, { leaseTtlMs: opts.leaseTtlMs ?? LEASE_TTL_MS, linkMax: opts.linkMax });
  const spaces = new UserSpaces(backend, opts.store ?? DEFAULT_STORE, opts.dataDir);
  const ctx: ServerContext = {
    accounts: backend.accounts,
    coordinator: backend.coordinator,
    spaces,
    throttle: new LoginThrottle(opts.throttle),
    purges: new PendingPurges(backend.coordinator, spaces),
    serverSecret: await backend.accounts.serverSecret(),
    tokenTtlMs: opts.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS,
    ssePingMs: opts.ssePingMs ?? 15_000,
    log,
    streams: new Set(),
    closing: false,
    touches: new TouchThrottle(Math.min(1000, (opts.leaseTtlMs ?? LEASE_TTL_MS) / 10)),
  };

  let app: FastifyInstance;
  try {
    app = await buildApp(ctx, opts);
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? DEFAULT_PORT });
  } catch (err) {
    await spaces.close();
    await backend.close();
    throw err;
  }

  const timers: NodeJS.Timeout[] = [];
  let gcRunning: Promise<void> | null = null;
  const gcIntervalMs = opts.gcIntervalMs ?? 60 * 60_000;
  if (gcIntervalMs > 0) {
    timers.push(setInterval(() => {
      if (gcRunning) return;
      gcRunning = collectAllGarbage(backend.accounts, spaces, opts.gc).finally(() => { gcRunning = null; });
    }, gcIntervalMs));
  }
  timers.push(setInterval(() => {
    ctx.purges.retry().catch((err) => log.warn({ err: (err as Error).message }, 'deferred purges failed'));
  }, opts.purgeSweepMs ?? 10_000));
  for (const t of timers) t.unref();

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_PORT);
  const host = opts.host ?? '127.0.0.1';
  const url = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url }, 'mosaicfs server listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    backend,
    spaces,
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        ctx.closing = true;
        await app.close();
        if (gcRunning) await gcRunning;
        await spaces.close();
        await backend.close();
        log.info('mosaicfs server stopped');
      })();
      return closing;
    },
  };
}

async function buildApp(ctx: ServerContext, opts: ServerOptions): Promise<FastifyInstance> {
  const https = opts.tls
    ? { key: await fs.readFile(opts.tls.keyFile), cert: await fs.readFile(opts.tls.certFile) }
    : null;
  const app = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: MAX_JSON_BODY,
    exposeHeadRoutes: false,
    return503OnClosing: false, // answered below with the protocol's ErrorBody
    forceCloseConnections: 'idle',
    // No per-request "incoming request"/"request completed" lines: errors are logged by our handler.
    logController: new LogController({ disableRequestLogging: true }),
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;

  // Raw block bodies: whole and of the announced length, or the request fails before any handler runs.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_BLOCK_BODY }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return sendError(reply, err.status, err.code, err.message);
    }
    if (isFsError(err)) return sendError(reply, statusOfErrno(err.code), err.code, err.message);
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(reply, status, 'EBADREQ', err.message);
    }
    if (typeof status === 'number' && status === 503) return sendError(reply, 503, 'ESHUTDOWN', 'the server is shutting down');
    req.log.error({ err }, 'internal error');
    return sendError(reply, 500, 'EINTERNAL', 'internal server error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'EBADREQ', `no route ${req.method} ${req.url.split('?')[0]}`));

  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (_req, reply, done) => {
    if (!ctx.closing) return done();
    reply.header('connection', 'close');
    done(new HttpError(503, 'ESHUTDOWN', 'the server is shutting down'));
  });

  // Event streams never finish by themselves: end them before waiting for in-flight requests.
  app.addHook('preClose', async () => {
    for (const end of [...ctx.streams]) end();
  });

  registerAuthRoutes(app, ctx);
  registerMetaRoutes(app, ctx);
  registerBlockRoutes(app, ctx);
  registerLeaseRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  return app;
}
