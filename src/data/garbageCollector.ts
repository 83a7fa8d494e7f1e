/**
 * Garbage collection of blocks no file references: MetaStore.unreferencedBlocks -> BlockStore.delete
 * -> MetaStore.forgetBlocks, in pages, under the GC lock held EXCLUSIVE (flushes hold it shared from
 * their dedup check to their commit, so a block about to gain a reference is never deleted).
 */
import type { BlockStore } from '../block/BlockStore.js';
import type { MetaStore } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import type { RwLock } from './RwLock.js';

const PAGE = 500;

export async function collectGarbage(
  meta: MetaStore,
  blocks: BlockStore,
  gcLock: RwLock,
  graceMs: number,
): Promise<{ deleted: number; bytes: number }> {
  return gcLock.exclusive(async () => {
    let deleted = 0;
    let bytes = 0;
    const failed = new Set<string>();
    for (;;) {
      const ids = (await meta.unreferencedBlocks(Date.now() - graceMs, PAGE + failed.size)).filter((id) => !failed.has(id));
      if (ids.length === 0) break;
      const gone: string[] = [];
      const sizes = new Map<string, number>();
      for (const id of ids) {
        const rec = await meta.getBlock(id);
        if (!rec || rec.refs > 0) continue;
        try {
          await blocks.delete(id);
          gone.push(id);
          sizes.set(id, rec.storedSize);
        } catch (err) {
          failed.add(id);
          log.warn({ blockId: id, err: (err as Error).message }, 'gc: could not delete block; will retry later');
        }
      }
      for (const id of await meta.forgetBlocks(gone)) {
        deleted++;
        bytes += sizes.get(id) ?? 0;
      }
      if (gone.length === 0) break;
    }
    return { deleted, bytes };
  });
}
