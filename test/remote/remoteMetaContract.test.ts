import { after, before, describe } from 'node:test';
import { metaStoreContract } from '../contract/metaStoreContract.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { remoteMetaFixture } from './contractAdapter.js';

// Every call is one HTTP round trip: the contract's 65,000-link test makes this file slow (minutes).
describe('RemoteMetaStore against a real server (no cache)', () => {
  let server: TestServer;
  let n = 0;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });
  metaStoreContract('remote (HTTP, no cache)', () => remoteMetaFixture(server, `plain${++n}`));
});
