import type { MetaStore, Timespec } from '../../src/meta/MetaStore.js';
import { HttpClient } from '../../src/remote/HttpClient.js';
import { login } from '../../src/remote/loginFlow.js';
import { RemoteMetaStore } from '../../src/remote/RemoteMetaStore.js';
import type { MetaStoreFixture } from '../contract/metaStoreContract.js';
import type { TestServer } from '../helpers/serverFixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * The link limit the contract's test servers give their users' stores: the limit logic is the same
 * at any value, and 65,000 links of one inode are 65,000 HTTP round trips.
 */
export const REMOTE_LINK_MAX = 2000;

/** The MetaStore methods that are not part of the remote protocol: the server runs them itself. */
type ServerSide = 'init' | 'setSetting' | 'check' | 'unreferencedBlocks' | 'forgetBlocks';

/**
 * A fresh user on a shared test server, seen through RemoteMetaStore (every REMOTE_META_OPS call
 * goes over HTTP; `wrap` may put the cache in front). The methods a client cannot call remotely are
 * answered by the server's own engine for that user's namespace (the same instance the server
 * uses): init() recreates the namespace with the contract's root exactly as `user add` does with its
 * own root, and check/unreferencedBlocks/forgetBlocks/setSetting are the server's GC and admin calls.
 */
export async function remoteMetaFixture(server: TestServer, name: string, wrap: (m: MetaStore) => MetaStore = (m) => m): Promise<MetaStoreFixture> {
  const password = `pw-${name}`;
  await server.addUser(name, password);
  const user = await server.server.backend.accounts.getUserByName(name);
  if (!user) throw new Error(`user ${name} missing after addUser`);
  const configDir = await createTempDir('mosaicfs-config-');
  const session = await login({ url: server.url, user: name, password, configDir });
  const http = new HttpClient({ url: server.url, token: session.token });
  const remote = wrap(new RemoteMetaStore(http));
  const spaces = server.server.spaces;
  const onServer = <T>(fn: (m: MetaStore) => Promise<T>): Promise<T> => spaces.use(user.id, user.blockSize, (s) => fn(s.meta));
  // Nothing has opened the namespace yet (login does not): recreate it at init() with the contract's root.
  await server.server.backend.dropNamespace(user.id);

  const serverSide: Pick<MetaStore, ServerSide> = {
    async init(root: { mode: number; uid: number; gid: number; now: Timespec }) {
      const meta = await server.server.backend.openMeta(user.id, user.blockSize);
      try {
        await meta.init(root);
      } finally {
        await meta.close();
      }
    },
    setSetting: (k, v) => onServer((m) => m.setSetting(k, v)),
    check: () => onServer((m) => m.check()),
    unreferencedBlocks: (olderThanMs, limit) => onServer((m) => m.unreferencedBlocks(olderThanMs, limit)),
    forgetBlocks: (ids) => onServer((m) => m.forgetBlocks(ids)),
  };
  const store = new Proxy(remote, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in serverSide) return serverSide[prop as ServerSide];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    store,
    chunkSize: user.blockSize,
    linkMax: REMOTE_LINK_MAX,
    cleanup: async () => {
      await http.close();
      await removeTempDir(configDir);
    },
  };
}
