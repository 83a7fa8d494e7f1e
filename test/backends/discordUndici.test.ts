// Regression: @discordjs/rest bundles undici 6, we use undici 7. Whichever loads first installs the
// process-wide global dispatcher; in the CLI and the mount daemon that is undici 7 (the peers
// client), and undici 6's multipart upload through undici 7's Agent failed every Discord upload
// ("action is not a function"). Here undici 7 loads first, as in the CLI.
import { getGlobalDispatcher } from 'undici';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { discordFixture } from '../emulators/discord/fixture.js';

describe('Discord store with undici 7 as the global dispatcher', () => {
  it('uploads and reads back a block', async () => {
    assert.ok(getGlobalDispatcher(), 'undici 7 installed its global dispatcher');
    const fx = await discordFixture();
    after(() => fx.cleanup());
    const store = await fx.open();
    const data = randomBytes(100_000);
    await store.put('ab'.repeat(32), data);
    assert.ok((await store.get('ab'.repeat(32))).equals(data));
  });
});
