import type { BlockStore } from '../block/BlockStore.js';
import { openBlockStore } from '../block/openBlockStore.js';
import { RwLock } from '../data/RwLock.js';
import { S_IFDIR, type MetaStore } from '../meta/MetaStore.js';
import { log } from '../util/log.js';
import { now } from '../util/time.js';
import type { StoreConfig } from '../volume/config.js';
import { SETTING_FORMAT_VERSION, SETTING_VOLUME_ID } from '../volume/Volume.js';
import { FORMAT_VERSION } from '../volume/config.js';
import type { ServerBackend } from './backend.js';

/** One user's namespace: their own MetaStore and BlockStore (and the GC lock over both). */
export interface UserSpace {
  userId: string;
  meta: MetaStore;
  blocks: BlockStore;
  gcLock: RwLock;
}

interface Entry {
  opening: Promise<UserSpace>;
  active: number;
  lastUsed: number;
}

export interface UserSpacesOptions {
  /** Close a namespace nobody used for this long (default 10 minutes). */
  idleMs?: number;
}

/**
 * Per-user namespaces, opened lazily and cached; idle ones are closed. Isolation is by
 * construction: a request is handed exactly one UserSpace, the one of its token's user, so
 * whatever ids it sends can only reach that user's stores.
 */
export class UserSpaces {
  private readonly spaces = new Map<string, Entry>();
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly backend: ServerBackend,
    private readonly store: StoreConfig,
    private readonly dataDir: string,
    opts: UserSpacesOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    this.sweeper = setInterval(() => void this.closeIdle(), Math.min(this.idleMs, 60_000));
    this.sweeper.unref();
  }

  /** Create and initialise a new user's namespace (root owned by uid:gid), then close it. */
  async create(userId: string, chunkSize: number, root: { uid: number; gid: number; volumeId: string }): Promise<void> {
    const meta = await this.backend.openMeta(userId, chunkSize);
    try {
      await meta.init({ mode: S_IFDIR | 0o755, uid: root.uid, gid: root.gid, now: now() });
      await meta.setSetting(SETTING_VOLUME_ID, root.volumeId);
      await meta.setSetting(SETTING_FORMAT_VERSION, String(FORMAT_VERSION));
    } finally {
      await meta.close();
    }
    const blocks = await openBlockStore(this.store, { volumeDir: this.dataDir, namespace: userId });
    await blocks.close();
  }

  /** Run fn with the user's namespace held open. */
  async use<T>(userId: string, chunkSize: number, fn: (space: UserSpace) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the server is shutting down');
    let entry = this.spaces.get(userId);
    if (!entry) {
      const opening = this.open(userId, chunkSize);
      entry = { opening, active: 0, lastUsed: Date.now() };
      this.spaces.set(userId, entry);
      opening.catch(() => {
        if (this.spaces.get(userId) === entry) this.spaces.delete(userId);
      });
    }
    entry.active++;
    try {
      return await fn(await entry.opening);
    } finally {
      entry.active--;
      entry.lastUsed = Date.now();
    }
  }

  /** Close the user's namespace (if open) and delete its data. */
  async drop(userId: string): Promise<void> {
    await this.closeOne(userId);
    await this.backend.dropNamespace(userId);
    const blocks = await openBlockStore(this.store, { volumeDir: this.dataDir, namespace: userId });
    try {
      const ids: string[] = [];
      for await (const b of blocks.list()) ids.push(b.id);
      for (const id of ids) await blocks.delete(id);
    } finally {
      await blocks.close();
    }
  }

  openUserIds(): string[] {
    return [...this.spaces.keys()];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.spaces.keys()].map((id) => this.closeOne(id)));
  }

  private async open(userId: string, chunkSize: number): Promise<UserSpace> {
    const meta = await this.backend.openMeta(userId, chunkSize);
    try {
      const blocks = await openBlockStore(this.store, { volumeDir: this.dataDir, namespace: userId });
      return { userId, meta, blocks, gcLock: new RwLock() };
    } catch (err) {
      await meta.close();
      throw err;
    }
  }

  private async closeIdle(): Promise<void> {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, e] of this.spaces) {
      if (e.active === 0 && e.lastUsed < cutoff) await this.closeOne(id);
    }
  }

  private async closeOne(userId: string): Promise<void> {
    const e = this.spaces.get(userId);
    if (!e) return;
    this.spaces.delete(userId);
    // In-flight requests finish first (graceful close waits for them before calling this).
    while (e.active > 0) await new Promise((r) => setTimeout(r, 10));
    try {
      const space = await e.opening;
      await space.blocks.close();
      await space.meta.close();
    } catch (err) {
      log.warn({ userId, err: (err as Error).message }, 'closing a user namespace failed');
    }
  }
}
