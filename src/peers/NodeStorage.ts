import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { LocalBlockStore } from '../block/local/LocalBlockStore.js';
import { assertBlockId, BLOCK_ID_RE } from '../block/BlockStore.js';
import { KeyedMutex } from '../util/mutex.js';
import { TombstoneLog } from './TombstoneLog.js';
import { NAMESPACE_RE, type ListPage, type ListedBlock } from './protocol.js';

/** A put that would take the node past its capacity. */
export class NodeFullError extends Error {
  constructor(need: number, free: number) {
    super(`node is full: ${need} bytes needed, ${free} free`);
    this.name = 'NodeFullError';
  }
}

export type DeleteMode = { kind: 'user' } | { kind: 'tombstone'; deletedAt: number } | { kind: 'drop' };

interface Namespace {
  blocks: LocalBlockStore;
  tombstones: TombstoneLog;
}

/**
 * A node's disk: one LocalBlockStore and TombstoneLog per namespace under DIR/ns/<ns>/, with
 * usage accounting against the lent capacity. Puts and deletes of one id are serialised, so
 * the accounting never counts a block twice.
 */
export class NodeStorage {
  private readonly spaces = new Map<string, Promise<Namespace>>();
  private readonly locks = new KeyedMutex<string>();
  used = 0;
  blockCount = 0;

  private constructor(readonly dir: string, readonly capacity: number) {}

  static async open(dir: string, capacity: number): Promise<NodeStorage> {
    const s = new NodeStorage(path.resolve(dir), capacity);
    await fs.mkdir(path.join(s.dir, 'ns'), { recursive: true });
    for (const ns of await s.namespaces()) {
      const space = await s.space(ns);
      for await (const b of space.blocks.list()) {
        s.used += b.size;
        s.blockCount++;
      }
    }
    return s;
  }

  get free(): number {
    return Math.max(0, this.capacity - this.used);
  }

  async namespaces(): Promise<string[]> {
    const entries = await fs.readdir(path.join(this.dir, 'ns'), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && NAMESPACE_RE.test(e.name)).map((e) => e.name).sort();
  }

  space(ns: string): Promise<Namespace> {
    if (!NAMESPACE_RE.test(ns)) throw new TypeError(`invalid namespace ${JSON.stringify(ns)}`);
    let p = this.spaces.get(ns);
    if (!p) {
      const root = path.join(this.dir, 'ns', ns);
      p = (async () => ({
        blocks: await LocalBlockStore.open(path.join(root, 'blocks')),
        tombstones: await TombstoneLog.open(path.join(root, 'tombstones.log')),
      }))();
      this.spaces.set(ns, p);
      p.catch(() => this.spaces.delete(ns));
    }
    return p;
  }

  async put(ns: string, id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    const space = await this.space(ns);
    await this.locks.run(`${ns}/${id}`, async () => {
      const file = space.blocks.pathOf(id);
      const existing = await sizeOf(file);
      if (existing === null) {
        if (data.length > this.free) throw new NodeFullError(data.length, this.free);
        await space.blocks.put(id, data);
        this.used += data.length;
        this.blockCount++;
      }
      // The store time decides against tombstones: a put after a delete must win.
      const now = new Date();
      await fs.utimes(file, now, now);
      await space.tombstones.revive(id);
    });
  }

  async stat(ns: string, id: string): Promise<ListedBlock | null> {
    assertBlockId(id);
    const space = await this.space(ns);
    try {
      const st = await fs.lstat(space.blocks.pathOf(id));
      return st.isFile() ? { id, size: st.size, mtimeMs: Math.round(st.mtimeMs) } : null;
    } catch {
      return null;
    }
  }

  /**
   * Removes a copy. 'user': a delete by a client, always removes and records a tombstone now.
   * 'tombstone': a peer's tombstone applied here; a copy stored after `deletedAt` wins (it was put
   * again). 'drop': a surplus replica removed by repair; no tombstone.
   */
  async delete(ns: string, id: string, how: DeleteMode): Promise<void> {
    assertBlockId(id);
    const space = await this.space(ns);
    await this.locks.run(`${ns}/${id}`, async () => {
      const st = await this.stat(ns, id);
      const stale = st !== null && (how.kind !== 'tombstone' || st.mtimeMs < how.deletedAt);
      if (st && stale) {
        await space.blocks.delete(id);
        this.used -= st.size;
        this.blockCount--;
      }
      if (how.kind === 'user') await space.tombstones.add(id, Date.now());
      else if (how.kind === 'tombstone' && (st === null || stale)) await space.tombstones.add(id, how.deletedAt);
    });
  }

  /** One page of the namespace's blocks in id order, starting after `after`. */
  async list(ns: string, after: string, limit: number): Promise<ListPage> {
    const space = await this.space(ns);
    const out: ListedBlock[] = [];
    const root = space.blocks.dir;
    const pairs = (await fs.readdir(root)).filter((d) => /^[0-9a-f]{2}$/.test(d) && d >= after.slice(0, 2)).sort();
    for (const pair of pairs) {
      let names: string[];
      try {
        names = (await fs.readdir(path.join(root, pair))).filter((n) => BLOCK_ID_RE.test(n) && n > after).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          const st = await fs.lstat(path.join(root, pair, name));
          if (st.isFile()) out.push({ id: name, size: st.size, mtimeMs: Math.round(st.mtimeMs) });
        } catch {
          continue; // deleted while listing
        }
        if (out.length >= limit) return { blocks: out, next: name };
      }
    }
    return { blocks: out, next: null };
  }

  async sync(ns: string): Promise<void> {
    await (await this.space(ns)).blocks.sync();
  }

  async close(): Promise<void> {
    for (const p of this.spaces.values()) await (await p).blocks.close();
  }
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await fs.lstat(file)).size;
  } catch {
    return null;
  }
}
