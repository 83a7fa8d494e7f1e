import { COMMIT_BODIES_MAX_BYTES } from './protocol.js';

/** Blocks up to this size wait for the commit that references them instead of a PUT of their own. */
export const STASH_MAX_BLOCK = 64 * 1024;

/**
 * Small sealed blocks the data layer has "put" that have not been sent yet: the commit that
 * references them carries them (commitSlicesWithBlocks), saving one round trip per small file. A
 * block stays here until a request that stored it succeeded, so every commit that references it
 * while it is here carries it (a duplicate store is harmless: blocks are content-addressed).
 * Bounded by COMMIT_BODIES_MAX_BYTES, so one commit's bodies always fit in a request.
 */
export class SmallBlockStash {
  private readonly blocks = new Map<string, Buffer>();
  private bytes = 0;
  /** Set when the server turned out not to know commitSlicesWithBlocks: every block is PUT at once. */
  disabled = false;

  /** Keep `data` (not copied: the caller gives it up) unless it is too big or the stash is full. */
  add(id: string, data: Buffer): boolean {
    if (this.disabled || data.length > STASH_MAX_BLOCK) return false;
    if (this.blocks.has(id)) return true;
    if (this.bytes + data.length > COMMIT_BODIES_MAX_BYTES) return false;
    this.blocks.set(id, data);
    this.bytes += data.length;
    return true;
  }

  get(id: string): Buffer | undefined {
    return this.blocks.get(id);
  }

  get size(): number {
    return this.blocks.size;
  }

  ids(): string[] {
    return [...this.blocks.keys()];
  }

  /** The stashed ones among `ids`. */
  pick(ids: Iterable<string>): Array<{ id: string; data: Buffer }> {
    const out: Array<{ id: string; data: Buffer }> = [];
    for (const id of new Set(ids)) {
      const data = this.blocks.get(id);
      if (data) out.push({ id, data });
    }
    return out;
  }

  /** The server stored these: forget them. */
  stored(ids: Iterable<string>): void {
    for (const id of ids) {
      const data = this.blocks.get(id);
      if (!data) continue;
      this.blocks.delete(id);
      this.bytes -= data.length;
    }
  }
}
