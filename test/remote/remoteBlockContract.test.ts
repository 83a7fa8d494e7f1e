import { after, before, describe } from 'node:test';
import { HttpClient } from '../../src/remote/HttpClient.js';
import { login } from '../../src/remote/loginFlow.js';
import { RemoteBlockStore } from '../../src/remote/RemoteBlockStore.js';
import { SmallBlockStash } from '../../src/remote/SmallBlockStash.js';
import { blockStoreContract } from '../contract/blockStoreContract.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

describe('RemoteBlockStore against a real server', () => {
  let server: TestServer;
  let n = 0;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });
  // A fresh user per store: each user's blocks are a namespace of their own, empty at first.
  // With a stash (as a mount has), small puts wait for a commit that never comes here: reads are
  // answered from the stash, and list/sync/close store them.
  for (const stashed of [false, true]) {
    blockStoreContract(stashed ? 'remote (HTTP, small blocks stashed)' : 'remote (HTTP)', async () => {
      const name = `blocks${++n}`;
      await server.addUser(name, 'pw');
      const configDir = await createTempDir('mosaicfs-config-');
      const s = await login({ url: server.url, user: name, password: 'pw', configDir });
      const http = new HttpClient({ url: server.url, token: s.token });
      const store = new RemoteBlockStore(http, undefined, stashed ? new SmallBlockStash() : undefined);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await http.close();
          await removeTempDir(configDir);
        },
      };
    });
  }
});
