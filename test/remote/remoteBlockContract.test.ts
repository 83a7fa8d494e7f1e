import { after, before, describe } from 'node:test';
import { HttpClient } from '../../src/remote/HttpClient.js';
import { login } from '../../src/remote/loginFlow.js';
import { RemoteBlockStore } from '../../src/remote/RemoteBlockStore.js';
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
  blockStoreContract('remote (HTTP)', async () => {
    const name = `blocks${++n}`;
    await server.addUser(name, 'pw');
    const configDir = await createTempDir('mosaicfs-config-');
    const s = await login({ url: server.url, user: name, password: 'pw', configDir });
    const http = new HttpClient({ url: server.url, token: s.token });
    return {
      store: new RemoteBlockStore(http),
      cleanup: async () => {
        await http.close();
        await removeTempDir(configDir);
      },
    };
  });
});
