import * as fs from 'node:fs';
import * as path from 'node:path';
import { VolumeError } from '../../errors.js';
import type { DiscordStoreConfig } from '../../volume/config.js';

export const DEFAULT_TOKENS_ENV = 'MOSAICFS_DISCORD_TOKENS';

/** Where the tokens come from, for error messages ("check MOSAICFS_DISCORD_TOKENS"). */
export function tokenSource(cfg: DiscordStoreConfig): string {
  return cfg.tokensFile ? `the tokens file ${cfg.tokensFile}` : (cfg.tokensEnv ?? DEFAULT_TOKENS_ENV);
}

/** Bot tokens: one per line in cfg.tokensFile (relative to the volume folder), else comma-separated in the env variable. */
export function loadDiscordTokens(cfg: DiscordStoreConfig, volumeDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let raw: string[];
  if (cfg.tokensFile) {
    const file = path.resolve(volumeDir, cfg.tokensFile);
    try {
      raw = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    } catch (err) {
      throw new VolumeError(`cannot read the Discord tokens file ${file}: ${(err as Error).message}`);
    }
  } else {
    raw = (env[cfg.tokensEnv ?? DEFAULT_TOKENS_ENV] ?? '').split(',');
  }
  const tokens = [...new Set(raw.map((t) => t.trim()).filter((t) => t.length > 0 && !t.startsWith('#')))];
  if (tokens.length === 0) throw new VolumeError(`no Discord bot token: set ${tokenSource(cfg)}`);
  return tokens;
}
