import { login } from '../../src/remote/loginFlow.js';
import { openRemoteSession, type RemoteSession, type RemoteSessionOptions } from '../../src/remote/session.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

export interface RemoteFixture {
  server: TestServer;
  /** MOSAICFS_CONFIG_DIR of the logged-in user. */
  configDir: string;
  user: string;
  password: string;
  /** A new session of the logged-in user (closed by stop()). */
  open(opts?: Partial<RemoteSessionOptions>): Promise<RemoteSession>;
  stop(): Promise<void>;
}

let users = 0;

/** A test server with one user logged in (saved session in a temp config dir). Always call stop(). */
export async function startRemoteFixture(serverOpts: Parameters<typeof startTestServer>[0] = {}): Promise<RemoteFixture> {
  const server = await startTestServer(serverOpts);
  const configDir = await createTempDir('mosaicfs-config-');
  const sessions: RemoteSession[] = [];
  const user = `user${++users}`;
  const password = `pw-${user}-secret`;
  try {
    await server.addUser(user, password);
    await login({ url: server.url, user, password, configDir });
  } catch (err) {
    await server.stop();
    await removeTempDir(configDir);
    throw err;
  }
  return {
    server, configDir, user, password,
    async open(opts = {}) {
      const s = await openRemoteSession({ url: server.url, user, configDir, ...opts });
      sessions.push(s);
      return s;
    },
    async stop() {
      await Promise.allSettled(sessions.map((s) => s.close()));
      await server.stop();
      await removeTempDir(configDir);
    },
  };
}
