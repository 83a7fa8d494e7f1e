// Discord end to end through the CLI and a mount, against the emulator (run in this process, on
// loopback, with Discord's default rate limits): `mosaicfs init --store discord` as docs/BACKENDS.md
// shows it, bot tokens only from MOSAICFS_DISCORD_TOKENS, the API base from --discord-api.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { CHANNELS, TOKENS } from '../emulators/discord/fixture.js';
import { startDiscordEmulator } from '../emulators/discord/index.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { BLOCK_SIZE_FLAG, fullRoundTrip } from './flow.js';

describe('Discord backend through the CLI and a mount', { timeout: 120_000 }, () => {
  it('init --store discord, mount, write, remount, read back (expired URLs), fsck, put/get', async () => {
    const emu = await startDiscordEmulator({ bots: TOKENS.map((token) => ({ token })), channels: CHANNELS });
    after(() => emu.close());
    process.env.MOSAICFS_DISCORD_TOKENS = TOKENS.join(',');
    const fx = await MountedVolume.create({
      after,
      initArgs: [...BLOCK_SIZE_FLAG, '--store', 'discord', ...CHANNELS.flatMap((c) => ['--discord-channel', c]), '--discord-api', emu.apiBase],
    });
    const config = JSON.parse(await fs.readFile(path.join(fx.vol, 'mosaicfs.json'), 'utf8')) as { store: unknown };
    assert.deepEqual(config.store, { type: 'discord', channels: CHANNELS, apiBase: emu.apiBase, indexPath: 'discord-index.db' });
    assert.doesNotMatch(JSON.stringify(config), /token-/, 'no tokens in mosaicfs.json');

    await fullRoundTrip(fx, {
      // Every signed CDN URL the index holds is now expired: reads must fetch the messages again.
      afterRemount: async () => emu.revokeUrls(),
    });
    // One message per block, spread over the channels (sharding by block id).
    const perChannel = CHANNELS.map((c) => emu.messageCount(c));
    assert.ok(perChannel.reduce((a, b) => a + b) >= 10, `messages per channel: ${perChannel.join(', ')}`);
    assert.ok(perChannel.filter((n) => n > 0).length >= 2, `blocks not sharded over channels: ${perChannel.join(', ')}`);
    assert.equal(emu.requests((r) => r.route !== 'cdn' && (r.status === 401 || r.status === 403)).length, 0, 'no rejected API requests');
  });
});
