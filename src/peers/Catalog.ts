import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { CatalogPage } from './protocol.js';

/**
 * Which nodes held which blocks at the last scrub, per namespace, kept on disk. Entries of nodes
 * that are down are kept as they were, so after a node (or two) is lost the survivors still know
 * what it held: repair reports blocks whose every holder is down as LOST.
 */
export class Catalog {
  private data = new Map<string, Map<string, Set<string>>>();

  private constructor(private readonly file: string) {}

  static async open(file: string): Promise<Catalog> {
    const c = new Catalog(file);
    try {
      const raw = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, [string, string[]][]>;
      for (const [ns, entries] of Object.entries(raw)) c.data.set(ns, new Map(entries.map(([id, h]) => [id, new Set(h)])));
    } catch { /* none yet, or torn: rebuilt by the next scrub */ }
    return c;
  }

  page(ns: string): CatalogPage {
    return { ns, entries: [...(this.data.get(ns) ?? new Map<string, Set<string>>())].map(([id, h]) => [id, [...h]]) };
  }

  /**
   * Replace what `nodeId` holds in `ns` with `ids` (a fresh listing of that node); `deleted`
   * ids are dropped whoever held them.
   */
  setHoldings(ns: string, nodeId: string, ids: Iterable<string>): void {
    let space = this.data.get(ns);
    if (!space) this.data.set(ns, (space = new Map()));
    const now = new Set(ids);
    for (const [id, holders] of space) {
      if (!now.has(id)) holders.delete(nodeId);
      if (holders.size === 0) space.delete(id);
    }
    for (const id of now) {
      let holders = space.get(id);
      if (!holders) space.set(id, (holders = new Set()));
      holders.add(nodeId);
    }
  }

  forget(ns: string, id: string): void {
    this.data.get(ns)?.delete(id);
  }

  async save(): Promise<void> {
    const out: Record<string, [string, string[]][]> = {};
    for (const ns of this.data.keys()) out[ns] = this.page(ns).entries;
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(out));
    await fs.rename(tmp, this.file);
  }
}
