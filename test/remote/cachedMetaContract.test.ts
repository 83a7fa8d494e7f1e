import { after, before, describe } from 'node:test';
import { CachingMetaStore } from '../../src/remote/CachingMetaStore.js';
import { metaStoreContract } from '../contract/metaStoreContract.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { REMOTE_LINK_MAX, remoteMetaFixture } from './contractAdapter.js';

describe('CachingMetaStore over RemoteMetaStore against a real server', () => {
  let server: TestServer;
  let n = 0;
  before(async () => {
    server = await startTestServer({ linkMax: REMOTE_LINK_MAX });
  });
  after(async () => {
    await server?.stop();
  });
  metaStoreContract('remote (HTTP, attribute/entry cache 1 s)', () =>
    remoteMetaFixture(server, `cached${++n}`, (m) => new CachingMetaStore(m, 1000)));
});
