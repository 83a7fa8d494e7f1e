import { createTempDir, removeTempDir } from '../../helpers/tmp.js';
import { DiscordBlockStore, type DiscordStoreTuning } from '../../../src/block/discord/DiscordBlockStore.js';
import type { DiscordStoreConfig } from '../../../src/volume/config.js';
import { startDiscordEmulator, type DiscordEmulator, type DiscordEmulatorOptions } from './DiscordEmulator.js';

export const CHANNELS = ['1100000000000000001', '1100000000000000002', '1100000000000000003'];
export const TOKENS = ['token-alpha.x.y', 'token-beta.x.y'];

/** Limits generous enough that functional tests are not slowed by rate limiting. */
export const FAST_LIMITS: Partial<DiscordEmulatorOptions> = {
  globalLimit: 1000,
  routeLimits: {
    getMe: { limit: 100, windowMs: 1000 },
    getChannel: { limit: 100, windowMs: 1000 },
    createMessage: { limit: 200, windowMs: 1000 },
    getMessage: { limit: 200, windowMs: 1000 },
    deleteMessage: { limit: 200, windowMs: 1000 },
  },
};

export interface DiscordFixture {
  emu: DiscordEmulator;
  dir: string;
  cfg: DiscordStoreConfig;
  env: NodeJS.ProcessEnv;
  open(tuning?: DiscordStoreTuning): Promise<DiscordBlockStore>;
  cleanup(): Promise<void>;
}

/** An emulator, a temp volume folder and a config naming them; stores opened through it are closed by cleanup. */
export async function discordFixture(opts: Partial<DiscordEmulatorOptions> = {}, tokens = TOKENS, channels = CHANNELS): Promise<DiscordFixture> {
  const emu = await startDiscordEmulator({ bots: tokens.map((token) => ({ token })), channels, ...FAST_LIMITS, ...opts });
  const dir = await createTempDir('mosaicfs-discord-');
  const env = { MOSAICFS_DISCORD_TOKENS: tokens.join(',') };
  const cfg: DiscordStoreConfig = { type: 'discord', channels, apiBase: emu.apiBase, indexPath: 'discord-index.db' };
  const opened: DiscordBlockStore[] = [];
  return {
    emu,
    dir,
    cfg,
    env,
    async open(tuning = {}) {
      const store = await DiscordBlockStore.open(cfg, { volumeDir: dir }, { globalRequestsPerSecond: 1000, env, ...tuning });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await emu.close();
      await removeTempDir(dir);
    },
  };
}
