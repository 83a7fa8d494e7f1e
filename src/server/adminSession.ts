import { DEFAULT_STORE } from './Server.js';
import { openBackend, type ServerBackend } from './backend.js';
import { UserSpaces } from './UserSpaces.js';
import type { StoreConfig } from '../volume/config.js';

/**
 * The stores of a deployment opened for an admin command (`mosaicfs user ...`), next to a running
 * server or not: SQLite files are shared safely (WAL), PostgreSQL is shared by design.
 */
export async function withAdminSession<T>(
  opts: { dataDir: string; metaUrl?: string; store?: StoreConfig },
  fn: (s: { backend: ServerBackend; spaces: UserSpaces }) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(opts.dataDir, opts.metaUrl);
  const spaces = new UserSpaces(backend, opts.store ?? DEFAULT_STORE, opts.dataDir);
  try {
    return await fn({ backend, spaces });
  } finally {
    await spaces.close();
    await backend.close();
  }
}
