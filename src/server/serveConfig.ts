import * as fs from 'node:fs/promises';
import type { StoreConfig } from '../volume/config.js';
import { parseDuration } from '../cli/units.js';
import { UsageError } from '../cli/errors.js';
import { DEFAULT_PORT, type ServerOptions } from './Server.js';

/**
 * `mosaicfs serve` / `mosaicfs user` settings from three places, first wins: command-line flags,
 * MOSAICFS_SERVE_* environment variables, then a JSON config file (--config or
 * MOSAICFS_SERVE_CONFIG) with the same keys:
 *   { "data": "./srv", "listen": "127.0.0.1:7070", "meta": "postgres://...", "tlsCert": "f",
 *     "tlsKey": "f", "tokenTtl": "30d", "gcInterval": "1h", "store": { ...StoreConfig } }
 */
export interface ServeSettings {
  data?: string;
  listen?: string;
  meta?: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenTtl?: string;
  gcInterval?: string;
  store?: StoreConfig;
}

const ENV: Record<keyof Omit<ServeSettings, 'store'>, string> = {
  data: 'MOSAICFS_SERVE_DATA',
  listen: 'MOSAICFS_SERVE_LISTEN',
  meta: 'MOSAICFS_SERVE_META',
  tlsCert: 'MOSAICFS_SERVE_TLS_CERT',
  tlsKey: 'MOSAICFS_SERVE_TLS_KEY',
  tokenTtl: 'MOSAICFS_SERVE_TOKEN_TTL',
  gcInterval: 'MOSAICFS_SERVE_GC_INTERVAL',
};
export const CONFIG_ENV = 'MOSAICFS_SERVE_CONFIG';

export async function resolveServeSettings(
  flags: ServeSettings & { config?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeSettings> {
  const configFile = flags.config ?? env[CONFIG_ENV];
  let file: ServeSettings = {};
  if (configFile !== undefined) {
    let text: string;
    try {
      text = await fs.readFile(configFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    try {
      file = JSON.parse(text) as ServeSettings;
    } catch (err) {
      throw new UsageError(`config file ${configFile} is not valid JSON: ${(err as Error).message}`);
    }
    if (file === null || typeof file !== 'object' || Array.isArray(file)) throw new UsageError(`config file ${configFile} must hold a JSON object`);
    const known = new Set([...Object.keys(ENV), 'store']);
    for (const k of Object.keys(file)) if (!known.has(k)) throw new UsageError(`config file ${configFile}: unknown key ${JSON.stringify(k)}`);
  }
  const out: ServeSettings = {};
  for (const key of Object.keys(ENV) as Array<keyof typeof ENV>) {
    const v = flags[key] ?? env[ENV[key]] ?? file[key];
    if (v !== undefined) {
      if (typeof v !== 'string' || v === '') throw new UsageError(`${key} must be a non-empty string`);
      out[key] = v;
    }
  }
  if (file.store !== undefined) out.store = file.store;
  return out;
}

/** host:port, [v6]:port, or just a port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+))?:?(\d{1,5})?$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] !== undefined ? Number(m[3]) : undefined;
  if (!m || (host === undefined && port === undefined) || (port !== undefined && port > 65535)) {
    throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:7070), got ${JSON.stringify(text)}`);
  }
  if (host !== undefined && /^\d+$/.test(host) && port === undefined) return { host: '127.0.0.1', port: Number(host) };
  return { host: host ?? '127.0.0.1', port: port ?? DEFAULT_PORT };
}

export function serverOptionsOf(s: ServeSettings): ServerOptions {
  if (s.data === undefined) throw new UsageError('the data folder is required: --data DIR (or MOSAICFS_SERVE_DATA, or "data" in --config)');
  if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const listen = parseListen(s.listen ?? `127.0.0.1:${DEFAULT_PORT}`);
  const duration = (what: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    try {
      return parseDuration(v);
    } catch (err) {
      throw new UsageError(`${what}: ${(err as Error).message}`);
    }
  };
  return {
    dataDir: s.data,
    host: listen.host,
    port: listen.port,
    metaUrl: s.meta,
    store: s.store,
    tls: s.tlsCert !== undefined && s.tlsKey !== undefined ? { certFile: s.tlsCert, keyFile: s.tlsKey } : undefined,
    tokenTtlMs: duration('--token-ttl', s.tokenTtl),
    gcIntervalMs: duration('--gc-interval', s.gcInterval),
  };
}
