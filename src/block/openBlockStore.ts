import * as path from 'node:path';
import type { StoreConfig } from '../volume/config.js';
import type { BlockStore } from './BlockStore.js';
import { DEFAULT_SMALL_BLOCK_MAX_BYTES, LocalBlockStore } from './local/LocalBlockStore.js';

export interface StoreContext {
  /** Folder of the volume (or the server's data folder): relative paths in the config are relative to it. */
  volumeDir: string;
  /**
   * A sub-namespace inside the backend (the server uses one per user): a sub-folder for a local
   * store, a key prefix for S3, and so on. [a-z0-9]{1,64}.
   */
  namespace?: string;
}

/**
 * Build the BlockStore a volume's config describes (a single backend or a tree of compositions).
 * The remote backends are loaded on demand, so a local volume never pays for the AWS SDK at startup.
 * If a later part of a tree fails to open, the parts already open are closed before the error is thrown.
 */
export async function openBlockStore(cfg: StoreConfig, ctx: StoreContext): Promise<BlockStore> {
  switch (cfg.type) {
    case 'local': {
      const dir = path.resolve(ctx.volumeDir, cfg.path);
      // Small blocks as rows of blocks/small.db: no file per small file (src/block/local/SmallBlockDb.ts).
      return LocalBlockStore.open(ctx.namespace ? path.join(dir, ctx.namespace) : dir, { smallBlockMaxBytes: DEFAULT_SMALL_BLOCK_MAX_BYTES });
    }
    case 's3': {
      const { S3BlockStore } = await import('./s3/S3BlockStore.js');
      return S3BlockStore.open(cfg, ctx);
    }
    case 'discord': {
      const { DiscordBlockStore } = await import('./discord/DiscordBlockStore.js');
      return DiscordBlockStore.open(cfg, ctx);
    }
    case 'peers': {
      const { PeerBlockStore } = await import('./peers/PeerBlockStore.js');
      return PeerBlockStore.open(cfg, ctx);
    }
    case 'replicate': {
      const { ReplicatedBlockStore } = await import('./compose/ReplicatedBlockStore.js');
      const replicas = await openAll(cfg.stores, ctx);
      return new ReplicatedBlockStore(replicas, { writeQuorum: cfg.writeQuorum });
    }
    case 'tiered': {
      const { TieredBlockStore } = await import('./compose/TieredBlockStore.js');
      const [fast, slow] = await openAll([cfg.fast, cfg.slow], ctx);
      return TieredBlockStore.open(fast, slow, { keepFast: cfg.keepFast });
    }
    default:
      throw new TypeError(`unknown store type ${JSON.stringify((cfg as { type?: unknown }).type)}`);
  }
}

async function openAll(configs: StoreConfig[], ctx: StoreContext): Promise<BlockStore[]> {
  const results = await Promise.allSettled(configs.map((c) => openBlockStore(c, ctx)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return results.map((r) => (r as PromiseFulfilledResult<BlockStore>).value);
  await Promise.allSettled(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  throw failed.reason;
}
