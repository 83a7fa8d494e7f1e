import type { KdfParams } from '../../src/remote/protocol.js';
import { createUser } from '../../src/server/admin.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/Server.js';
import { createTempDir, removeTempDir } from './tmp.js';

/** Login KDF cost for tests (the real default is N = 2^15): same code path, a fraction of the time. */
export const TEST_LOGIN_KDF: KdfParams = { name: 'scrypt', N: 1024, r: 8, p: 1 };
export const TEST_VERIFIER_N = 1024;

export interface TestServer {
  url: string;
  dataDir: string;
  /** The running server (its backend.accounts, spaces, ...). */
  server: RunningServer;
  /** Create a user (low KDF cost) with an empty volume; root owned by this process's uid/gid unless given. */
  addUser(name: string, password: string, opts?: { blockSize?: number; uid?: number; gid?: number }): Promise<void>;
  /** Graceful close, then the data folder is removed (unless keepDataDir). Idempotent. */
  stop(opts?: { keepDataDir?: boolean }): Promise<void>;
}

/**
 * A real `mosaicfs serve` in this process on 127.0.0.1 (a free port), SQLite metadata and a local
 * block folder in a fresh temp dir. Pass any ServerOptions to override (e.g. leaseTtlMs, tokenTtlMs).
 * Always call stop() (e.g. in after()).
 */
export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await createTempDir('mosaicfs-server-'));
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    gcIntervalMs: 0,
    logLevel: process.env.MOSAICFS_LOG ?? 'warn',
    ...opts,
    dataDir,
  });
  let stopped: Promise<void> | null = null;
  return {
    url: server.url,
    dataDir,
    server,
    async addUser(name, password, userOpts = {}) {
      await createUser(server.backend.accounts, server.spaces, {
        name,
        password,
        kdf: TEST_LOGIN_KDF,
        verifierN: TEST_VERIFIER_N,
        ...userOpts,
      });
    },
    stop(stopOpts = {}) {
      stopped ??= (async () => {
        await server.close();
        if (!stopOpts.keepDataDir && opts.dataDir === undefined) await removeTempDir(dataDir);
      })();
      return stopped;
    },
  };
}
