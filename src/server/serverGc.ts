import { collectGarbage } from '../data/garbageCollector.js';
import { log } from '../util/log.js';
import type { AccountStore } from './AccountStore.js';
import type { UserSpace, UserSpaces } from './UserSpaces.js';

export interface ServerGcOptions {
  /** Blocks at refs 0 are deleted only after this long (a client may be about to reuse one by dedup). Default 1 h. */
  graceMs?: number;
  /** Blocks the metadata does not know (uploaded, never committed: a client crashed) after this long. Default 24 h. */
  leakedMs?: number;
}

/**
 * Garbage collection on the server: clients no longer own the store, so the server frees, per
 * user, blocks no file references (after a grace period) and blocks that were uploaded but never
 * committed (after a longer one).
 */
export async function collectUserGarbage(space: UserSpace, opts: ServerGcOptions = {}): Promise<{ deleted: number; bytes: number }> {
  const graceMs = opts.graceMs ?? 60 * 60_000;
  const leakedMs = opts.leakedMs ?? 24 * 60 * 60_000;
  const unreferenced = await collectGarbage(space.meta, space.blocks, space.gcLock, graceMs);
  const cutoff = Date.now() - leakedMs;
  let deleted = 0;
  let bytes = 0;
  await space.gcLock.exclusive(async () => {
    const leaked = [];
    for await (const b of space.blocks.list()) {
      if (b.mtimeMs !== undefined && b.mtimeMs <= cutoff && (await space.meta.getBlock(b.id)) === null) leaked.push(b);
    }
    for (const b of leaked) {
      if ((await space.meta.getBlock(b.id)) !== null) continue;
      await space.blocks.delete(b.id);
      deleted++;
      bytes += b.size;
    }
  });
  return { deleted: unreferenced.deleted + deleted, bytes: unreferenced.bytes + bytes };
}

export async function collectAllGarbage(accounts: AccountStore, spaces: UserSpaces, opts: ServerGcOptions = {}): Promise<void> {
  for (const user of await accounts.listUsers()) {
    try {
      const r = await spaces.use(user.id, user.blockSize, (space) => collectUserGarbage(space, opts));
      if (r.deleted > 0) log.info({ userId: user.id, deleted: r.deleted, bytes: r.bytes }, 'gc: freed blocks');
    } catch (err) {
      log.warn({ userId: user.id, err: (err as Error).message }, 'gc of a user namespace failed');
    }
  }
}
