import * as path from 'node:path';
import { VolumeError } from '../errors.js';
import type { StoreConfig } from '../volume/config.js';
import type { BlockStore } from './BlockStore.js';
import { LocalBlockStore } from './local/LocalBlockStore.js';

export interface StoreContext {
  /** Folder of the volume (or the server's data folder): relative paths in the config are relative to it. */
  volumeDir: string;
  /**
   * A sub-namespace inside the backend (the server uses one per user): a sub-folder for a local
   * store, a key prefix for S3, and so on. [a-z0-9]{1,64}.
   */
  namespace?: string;
}

/** Build the BlockStore a volume's config describes (a single backend or a tree of compositions). */
export async function openBlockStore(cfg: StoreConfig, ctx: StoreContext): Promise<BlockStore> {
  switch (cfg.type) {
    case 'local': {
      const dir = path.resolve(ctx.volumeDir, cfg.path);
      return LocalBlockStore.open(ctx.namespace ? path.join(dir, ctx.namespace) : dir);
    }
    default:
      throw new VolumeError(`store type ${JSON.stringify(cfg.type)} is not available in this build`);
  }
}
