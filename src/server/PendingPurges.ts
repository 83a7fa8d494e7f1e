import { isFsError } from '../errors.js';
import { log } from '../util/log.js';
import type { Coordinator } from './Coordinator.js';
import type { UserSpaces } from './UserSpaces.js';

/**
 * Orphan inodes (nlink 0) a client asked to purge while another client still had them open: they
 * are purged once no live client has them open (checked when a lease is released and on a timer,
 * which also covers clients that vanish and expire). In memory: after a restart, orphans are found
 * again through listOrphans by the next client that mounts.
 */
export class PendingPurges {
  private readonly pending = new Map<string, { chunkSize: number; inos: Set<number> }>();

  constructor(private readonly coordinator: Coordinator, private readonly spaces: UserSpaces) {}

  add(userId: string, chunkSize: number, ino: number): void {
    let p = this.pending.get(userId);
    if (!p) this.pending.set(userId, (p = { chunkSize, inos: new Set() }));
    p.inos.add(ino);
  }

  has(userId: string, ino: number): boolean {
    return this.pending.get(userId)?.inos.has(ino) ?? false;
  }

  /** Purge what is no longer open anywhere (for one user's inodes, or everything). */
  async retry(userId?: string): Promise<void> {
    const users = userId === undefined ? [...this.pending.keys()] : [userId];
    for (const uid of users) {
      const p = this.pending.get(uid);
      if (!p || p.inos.size === 0) continue;
      const stillOpen = await this.coordinator.openElsewhere(uid, [...p.inos], '');
      const ready = [...p.inos].filter((ino) => !stillOpen.has(ino));
      if (ready.length === 0) continue;
      await this.spaces.use(uid, p.chunkSize, async ({ meta }) => {
        for (const ino of ready) {
          try {
            const attr = await meta.getattr(ino);
            if (attr.nlink === 0) await meta.purgeInode(ino);
          } catch (err) {
            if (!isFsError(err, 'ENOENT')) {
              log.warn({ userId: uid, ino, err: (err as Error).message }, 'deferred purge failed; will retry');
              continue;
            }
          }
          p.inos.delete(ino);
        }
      });
      if (p.inos.size === 0) this.pending.delete(uid);
    }
  }
}
