import { describe } from 'node:test';
import { blockStoreContract } from '../contract/blockStoreContract.js';
import { discordFixture } from '../emulators/discord/fixture.js';

describe('DiscordBlockStore on the emulator', () => {
  blockStoreContract('discord (emulator)', async () => {
    const fx = await discordFixture();
    const store = await fx.open();
    return { store, cleanup: () => fx.cleanup() };
  });
});
