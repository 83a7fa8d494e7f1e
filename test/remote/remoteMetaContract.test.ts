import { after, before, describe } from 'node:test';
import { metaStoreContract } from '../contract/metaStoreContract.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { REMOTE_LINK_MAX, remoteMetaFixture } from './contractAdapter.js';

describe('RemoteMetaStore against a real server (no cache)', () => {
  let server: TestServer;
  let n = 0;
  before(async () => {
    server = await startTestServer({ linkMax: REMOTE_LINK_MAX });
  });
  after(async () => {
    await server?.stop();
  });
  metaStoreContract('remote (HTTP, no cache)', () => remoteMetaFixture(server, `plain${++n}`));
});
