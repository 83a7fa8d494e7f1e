/**
 * Reads whose bytes are checked by the caller, so a store holding several copies can try another
 * copy when one fails authentication. The BlockStore sits below the codec and cannot tell good bytes
 * from bad; the reader (BlockFetcher) can. It passes `open` (authenticate + decrypt); a store with
 * copies (replicate, tiered) calls it on each reply and moves on to the next copy when it throws an
 * IntegrityError. Plain stores need nothing: readChecked() falls back to getRange + open.
 */
import type { BlockStore } from '../BlockStore.js';

export type OpenReply<T> = (sealed: Buffer) => T;

export interface CheckedReadStore extends BlockStore {
  /**
   * getRange(id, offset, length) passed through `open`. When `open` throws an IntegrityError on a
   * reply, another copy is tried; only when no copy passes is the (last) IntegrityError thrown.
   */
  getRangeChecked<T>(id: string, offset: number, length: number, open: OpenReply<T>): Promise<T>;
}

export function hasCheckedRead(store: BlockStore): store is CheckedReadStore {
  return typeof (store as Partial<CheckedReadStore>).getRangeChecked === 'function';
}

export async function readChecked<T>(store: BlockStore, id: string, offset: number, length: number, open: OpenReply<T>): Promise<T> {
  if (hasCheckedRead(store)) return store.getRangeChecked(id, offset, length, open);
  return open(await store.getRange(id, offset, length));
}
