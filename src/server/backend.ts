import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { SqliteMetaStore } from '../meta/sqlite/SqliteMetaStore.js';
import type { MetaStore } from '../meta/MetaStore.js';
import type { AccountStore } from './AccountStore.js';
import { CachingAccountStore } from './CachingAccountStore.js';
import type { Coordinator } from './Coordinator.js';
import { InProcessCoordinator } from './InProcessCoordinator.js';
import { SqliteAccountStore } from './SqliteAccountStore.js';

/**
 * Where a deployment keeps users, coordination and per-user metadata. SQLite (one server:
 * dataDir/server.db, dataDir/users/<id>/meta.db, in-memory coordination) or PostgreSQL (several
 * servers on one database: src/server/postgres, openPostgresBackend).
 */
export interface ServerBackend {
  accounts: AccountStore;
  coordinator: Coordinator;
  /** The user's MetaStore (created empty if absent; the caller runs init()). */
  openMeta(userId: string, chunkSize: number): Promise<MetaStore>;
  /** Remove the user's metadata (after user deletion). */
  dropNamespace(userId: string): Promise<void>;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Lease TTL of the in-process coordinator (tests shorten it). */
  leaseTtlMs?: number;
  /** Hard-link limit of the users' SQLite MetaStores (default 65000; tests lower it). */
  linkMax?: number;
}

export const USERS_DIR = 'users';
export const SERVER_DB = 'server.db';

/** A user id names folders and schemas: keep it to what AccountStore documents. */
export const USER_ID_RE = /^[a-z0-9]{16}$/;

export async function openSqliteBackend(dataDir: string, opts: BackendOptions = {}): Promise<ServerBackend> {
  await fs.mkdir(path.join(dataDir, USERS_DIR), { recursive: true });
  const accounts = new SqliteAccountStore(path.join(dataDir, SERVER_DB));
  await accounts.init();
  const coordinator = new InProcessCoordinator(opts.leaseTtlMs);
  const userDir = (userId: string): string => {
    if (!USER_ID_RE.test(userId)) throw new RangeError(`invalid user id ${JSON.stringify(userId)}`);
    return path.join(dataDir, USERS_DIR, userId);
  };
  return {
    accounts,
    coordinator,
    async openMeta(userId, chunkSize) {
      const dir = userDir(userId);
      await fs.mkdir(dir, { recursive: true });
      return SqliteMetaStore.open(path.join(dir, 'meta.db'), { chunkSize, linkMax: opts.linkMax });
    },
    async dropNamespace(userId) {
      await fs.rm(userDir(userId), { recursive: true, force: true });
    },
    async close() {
      await coordinator.close();
      await accounts.close();
    },
  };
}

type PostgresModule = { openPostgresBackend(url: string, opts?: BackendOptions): Promise<ServerBackend> };

/** PostgreSQL engines live in src/server/postgres (loaded only when a postgres:// URL is given). */
export async function openPostgresServerBackend(url: string, opts: BackendOptions = {}): Promise<ServerBackend> {
  const specifier = './postgres/index.js';
  const mod = (await import(specifier)) as PostgresModule;
  const backend = await mod.openPostgresBackend(url, { leaseTtlMs: opts.leaseTtlMs });
  // Every request reads its token and user: one database round trip each without this cache.
  return { ...backend, accounts: new CachingAccountStore(backend.accounts) };
}

export async function openBackend(dataDir: string, metaUrl: string | undefined, opts: BackendOptions = {}): Promise<ServerBackend> {
  if (metaUrl === undefined) return openSqliteBackend(dataDir, opts);
  if (!/^postgres(ql)?:\/\//.test(metaUrl)) throw new RangeError(`--meta must be a postgres:// URL, got ${JSON.stringify(metaUrl)}`);
  return openPostgresServerBackend(metaUrl, opts);
}
