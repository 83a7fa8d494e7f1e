import { createPostgresPool, checkSchemaName } from '../../meta/postgres/pgClient.js';
import { PostgresMetaStore } from '../../meta/postgres/PostgresMetaStore.js';
import type { ServerBackend } from '../backend.js';
import { PostgresAccountStore } from './PostgresAccountStore.js';
import { PostgresCoordinator } from './PostgresCoordinator.js';

export { PostgresAccountStore } from './PostgresAccountStore.js';
export { PostgresCoordinator } from './PostgresCoordinator.js';

export interface PostgresBackendOptions {
  /** Lease TTL of the coordinator (tests shorten it). */
  leaseTtlMs?: number;
  /** Pool size (default 10). */
  poolSize?: number;
}

/** The schema of a user's metadata. */
export function userSchema(userId: string): string {
  if (!/^[a-z0-9]{1,60}$/.test(userId)) throw new RangeError(`invalid user id ${JSON.stringify(userId)}`);
  return checkSchemaName(`u_${userId}`);
}

/**
 * Everything a server keeps in PostgreSQL, over one pool whose sessions default to SERIALIZABLE:
 * accounts and coordination in the `mosaicfs` schema, each user's metadata in schema u_<userId>.
 */
export async function openPostgresBackend(url: string, opts: PostgresBackendOptions = {}): Promise<ServerBackend> {
  const pool = createPostgresPool(url, opts.poolSize ?? 10);
  pool.on('error', () => undefined); // an idle client's connection dropped: the pool replaces it
  try {
    const accounts = new PostgresAccountStore(pool);
    await accounts.init();
    const coordinator = await PostgresCoordinator.open({ pool, url, ttlMs: opts.leaseTtlMs });
    return {
      accounts,
      coordinator,
      openMeta: async (userId, chunkSize) => PostgresMetaStore.open({ pool, schema: userSchema(userId), chunkSize }),
      async dropNamespace(userId) {
        await pool.query(`DROP SCHEMA IF EXISTS "${userSchema(userId)}" CASCADE`);
      },
      async close() {
        await coordinator.close();
        await accounts.close();
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
