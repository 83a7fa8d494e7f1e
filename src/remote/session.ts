import * as fs from 'node:fs/promises';
import type { BlockStore } from '../block/BlockStore.js';
import { AesGcmBlockCodec } from '../crypto/AesGcmBlockCodec.js';
import { deriveBlockKeys } from '../crypto/keys.js';
import { BlockCache } from '../data/BlockCache.js';
import { ChunkedFileData } from '../data/ChunkedFileData.js';
import type { DiskCache } from '../data/DiskCache.js';
import { FsError } from '../errors.js';
import { ROOT_INO, S_IFDIR, type MetaStore } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import { now } from '../util/time.js';
import type { CacheInvalidator } from '../vfs/OpenLeases.js';
import { Vfs } from '../vfs/Vfs.js';
import { CachingMetaStore, DEFAULT_META_TTL_MS, type MetaCacheStats } from './CachingMetaStore.js';
import { configDir as defaultConfigDir, loadSession, type SavedSession } from './credentials.js';
import { EventStream } from './EventStream.js';
import { HttpClient, LEASE_GRANTED_HEADER, LEASE_ON_CREATE_HEADER, type HttpRequest } from './HttpClient.js';
import { login as loginFlow, LoginFailedError, logout as logoutFlow } from './loginFlow.js';
import { PURGED_WITH_UNLINK_HEADER, ROUTES, type ChangeEvent, type WhoamiResponse } from './protocol.js';
import { RemoteBlockStore } from './RemoteBlockStore.js';
import { ThrottledError } from './remoteErrors.js';
import { RemoteMetaStore } from './RemoteMetaStore.js';
import { RemoteOpenLeases } from './RemoteOpenLeases.js';
import { RequestCounter } from './RequestCounter.js';
import { SmallBlockStash } from './SmallBlockStash.js';

export interface RemoteSessionOptions {
  /** Server origin, http://host:port (https too). */
  url: string;
  /** Which saved session; optional when only one user is logged in to that server. */
  user?: string;
  /** Where saved sessions live (default MOSAICFS_CONFIG_DIR, XDG_CONFIG_HOME/mosaicfs, ~/.config/mosaicfs). */
  configDir?: string;
  /** Memory block cache bound (default 64 MiB). */
  cacheBytes?: number;
  /** Write buffer bound (default: the data layer's, 64 MiB). */
  writeBufferBytes?: number;
  diskCache?: DiskCache;
  readonly?: boolean;
  /** Attribute/entry cache timeout in ms (default 1000; 0 disables the cache). */
  metaTtlMs?: number;
  /** How long requests keep retrying an unreachable (restarting) server before EIO (default 60 s). */
  retryForMs?: number;
  /** Listen to the server's change events (default true). */
  events?: boolean;
  /** Lease keep-alive period (default LEASE_TTL_MS / 3 = 20 s). */
  leaseKeepAliveMs?: number;
  /** Observer of every HTTP request the session sends (tests and benchmarks count round trips). */
  onRequest?: (req: HttpRequest) => void;
}

export interface RemoteStats {
  url: string;
  user: string;
  clientId: string;
  /** Block (segment) cache in memory. */
  cacheHits: number;
  cacheMisses: number;
  cacheBytes: number;
  /** Attribute/entry cache. */
  metaCache: MetaCacheStats;
  /** HTTP body bytes sent / received (blocks and metadata). */
  bytesUp: number;
  bytesDown: number;
  /** Plaintext block bytes uploaded / downloaded by the data layer. */
  blockBytesUploaded: number;
  blockBytesDownloaded: number;
  /** Upload queue: bytes buffered not yet committed, block uploads in flight. */
  bufferedBytes: number;
  uploadsInFlight: number;
  requests: number;
  /** Requests per route (`POST /v1/meta getattr`...), every attempt counted. */
  requestsByRoute: Record<string, number>;
  retries: number;
  /** Server round trip: moving average and median of the last 256 requests, in ms. */
  latencyAvgMs: number;
  latencyP50Ms: number;
  eventsConnected: boolean;
  eventsReceived: number;
  eventReconnects: number;
  openFiles: number;
  tokenExpiresAt: number;
}

export interface RemoteSession {
  /** Server origin. */
  url: string;
  user: string;
  clientId: string;
  vfs: Vfs;
  data: ChunkedFileData;
  /** The cached MetaStore the VFS uses. */
  meta: MetaStore;
  blocks: BlockStore;
  events: EventStream;
  /** Where to forward invalidations to the kernel (the FUSE adapter registers itself). */
  setInvalidator(inv: CacheInvalidator | null): void;
  whoami(): Promise<WhoamiResponse>;
  stats(): RemoteStats;
  /** Renew the token with the password (saved session rewritten). FsError EACCES on a wrong password, EAGAIN when throttled. */
  login(password: string): Promise<void>;
  /** Revoke the token and delete the saved session; further requests fail with EACCES. */
  logout(): Promise<void>;
  /** Flush everything, release leases, stop the event stream, close connections. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Open a session with a mosaicfs server from the saved login (`mosaicfs login`): remote MetaStore
 * behind an attribute/entry cache, remote BlockStore, the embedded data layer (write buffer, block
 * caches, encryption with the volume key from the saved session) and the VFS with server leases and
 * close-to-open revalidation. No GC runs here: the server collects garbage.
 */
export async function openRemoteSession(opts: RemoteSessionOptions): Promise<RemoteSession> {
  const dir = opts.configDir ?? defaultConfigDir();
  const saved = await loadSession(opts.url, opts.user, dir);
  let current: SavedSession = saved;
  const counter = new RequestCounter();
  const ca = saved.caFile ? await fs.readFile(saved.caFile) : undefined;
  const http = new HttpClient({
    url: saved.url,
    token: saved.token,
    ca,
    retryForMs: opts.retryForMs,
    onRequest: (req) => {
      counter.add(req);
      opts.onRequest?.(req);
    },
    headers: { [LEASE_ON_CREATE_HEADER]: '1' },
    onResponse: (res) => {
      const granted = res.headers[LEASE_GRANTED_HEADER];
      if (typeof granted === 'string') leases.granted(Number(granted));
      const purged = res.headers[PURGED_WITH_UNLINK_HEADER];
      if (typeof purged === 'string') remoteMeta.purgedWithUnlink.add(Number(purged));
    },
    refreshToken: async () => {
      const fresh = await loadSession(saved.url, saved.user, dir).catch(() => null);
      if (fresh) current = fresh;
      return fresh?.token ?? null;
    },
  });
  const stash = new SmallBlockStash();
  const blocks = new RemoteBlockStore(http, undefined, stash);
  const remoteMeta = new RemoteMetaStore(http, { stash, flush: (ids) => blocks.flushStashed(ids) });
  const leases = new RemoteOpenLeases(http, opts.leaseKeepAliveMs);
  // Only while nothing is open here: the server knows this client's opens, but not after it restarted.
  remoteMeta.purgeWithUnlink = () => leases.idle();
  const meta = new CachingMetaStore(remoteMeta, opts.metaTtlMs ?? DEFAULT_META_TTL_MS, {
    changeWithAttrs: (op, args) => remoteMeta.changeWithAttrs(op, args),
    openWithAttr: (ino) => leases.openWithAttr(ino),
  });
  const events = new EventStream(http);
  let invalidator: CacheInvalidator | null = null;
  let data: ChunkedFileData | undefined;
  try {
    await meta.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: now() }); // reachability and token check
    const volumeKey = Buffer.from(saved.volumeKey, 'base64');
    const codec = new AesGcmBlockCodec(deriveBlockKeys(volumeKey));
    volumeKey.fill(0);
    data = new ChunkedFileData({
      meta, blocks, codec, chunkSize: saved.blockSize,
      cache: new BlockCache(opts.cacheBytes ?? DEFAULT_CACHE_BYTES),
      writeBufferBytes: opts.writeBufferBytes,
      diskCache: opts.diskCache,
      backgroundGc: false,
    });
    const fileData = data;
    events.on({
      change: (ev: ChangeEvent) => {
        meta.apply(ev);
        for (const ino of ev.data) fileData.invalidate(ino);
        if (invalidator) {
          for (const ino of new Set([...ev.inos, ...ev.data])) safe(() => invalidator!.inode(ino));
          for (const e of ev.entries) safe(() => invalidator!.entry(e.parent, e.name));
        }
      },
      reset: () => {
        meta.clear();
        for (const ino of leases.openInodes()) {
          fileData.invalidate(ino);
          if (invalidator) safe(() => invalidator!.inode(ino));
        }
        if (invalidator) safe(() => invalidator!.inode(ROOT_INO));
      },
    });
    const vfs = new Vfs({ meta, data, blockSize: saved.blockSize, readonly: opts.readonly, leases, revalidate: meta });
    await vfs.ready;
    if (opts.events ?? true) {
      events.start();
      await events.whenConnected(3000);
    }
    let closing: Promise<void> | undefined;
    const session: RemoteSession = {
      url: saved.url,
      user: saved.user,
      clientId: http.clientId,
      vfs, data, meta, blocks, events,
      setInvalidator: (inv) => {
        invalidator = inv;
      },
      whoami: () => http.json<WhoamiResponse>('GET', ROUTES.whoami),
      stats: () => {
        const d = fileData.stats();
        const lat = http.latency.snapshot();
        return {
          url: saved.url, user: saved.user, clientId: http.clientId,
          cacheHits: d.cacheHits, cacheMisses: d.cacheMisses, cacheBytes: d.cacheBytes,
          metaCache: meta.cacheStats(),
          bytesUp: http.traffic.bytesUp, bytesDown: http.traffic.bytesDown,
          blockBytesUploaded: d.bytesUploaded, blockBytesDownloaded: d.bytesDownloaded,
          bufferedBytes: d.bufferedBytes, uploadsInFlight: d.uploadsInFlight,
          requests: http.traffic.requests, requestsByRoute: counter.snapshot(), retries: http.traffic.retries,
          latencyAvgMs: lat.avgMs, latencyP50Ms: lat.p50Ms,
          eventsConnected: events.connected, eventsReceived: events.received, eventReconnects: events.reconnects,
          openFiles: leases.openInodes().length,
          tokenExpiresAt: current.expiresAt,
        };
      },
      login: async (password: string) => {
        try {
          current = await loginFlow({ url: saved.url, user: saved.user, password, configDir: dir, caFile: saved.caFile, clientId: http.clientId });
        } catch (err) {
          if (err instanceof LoginFailedError) throw new FsError('EACCES', err.message);
          if (err instanceof ThrottledError) throw new FsError('EAGAIN', err.message);
          throw err;
        }
        http.setToken(current.token);
      },
      logout: async () => {
        await logoutFlow({ url: saved.url, user: saved.user, configDir: dir, clientId: http.clientId });
        http.setToken(null);
      },
      close: () => (closing ??= closeAll(vfs, fileData, blocks, leases, events, http)),
    };
    return session;
  } catch (err) {
    await data?.close().catch(() => {});
    await events.close().catch(() => {});
    await http.close().catch(() => {});
    throw err;
  }
}

async function closeAll(vfs: Vfs, data: ChunkedFileData, blocks: RemoteBlockStore, leases: RemoteOpenLeases, events: EventStream, http: HttpClient): Promise<void> {
  try {
    await vfs.shutdown();
    await data.close();
  } finally {
    await blocks.close().catch(() => {}); // normally nothing left: every commit carried its blocks
    await leases.releaseAll().catch(() => {});
    await events.close().catch(() => {});
    await http.close();
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.warn({ err }, 'cache invalidation failed');
  }
}
