import * as fs from 'node:fs/promises';
import { Mutex } from '../util/mutex.js';
import type { Tombstone, TombstonePage } from './protocol.js';

/**
 * The deleted block ids of one namespace on one node, as an append-only log
 * (`D <id> <deletedAt>` / `R <id>` when the id is put again). A tombstone makes a copy stored
 * before `deletedAt` stale wherever it turns up, so a node that was offline during a delete drops
 * its copy instead of bringing the block back. Tombstones are kept forever (about 80 bytes each).
 */
export class TombstoneLog {
  private readonly byId = new Map<string, Tombstone>();
  private seq = 0;
  private readonly writes = new Mutex();

  private constructor(private readonly file: string) {}

  static async open(file: string): Promise<TombstoneLog> {
    const log = new TombstoneLog(file);
    let text = '';
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      const [op, id, at] = line.split(' ');
      if (op === 'D' && id && Number.isFinite(Number(at))) log.byId.set(id, { id, deletedAt: Number(at), seq: ++log.seq });
      else if (op === 'R' && id) log.byId.delete(id);
      // anything else: a torn last line after a crash
    }
    return log;
  }

  get(id: string): Tombstone | undefined {
    return this.byId.get(id);
  }

  /** Records a deletion (keeps the later time if one is already recorded). */
  async add(id: string, deletedAt: number): Promise<void> {
    const old = this.byId.get(id);
    if (old && old.deletedAt >= deletedAt) return;
    this.byId.set(id, { id, deletedAt, seq: ++this.seq });
    await this.append(`D ${id} ${deletedAt}\n`);
  }

  /** The id was put again: it is live. */
  async revive(id: string): Promise<void> {
    if (!this.byId.delete(id)) return;
    await this.append(`R ${id}\n`);
  }

  since(cursor: number, limit = 10_000): TombstonePage {
    const out = [...this.byId.values()].filter((t) => t.seq > cursor).sort((a, b) => a.seq - b.seq).slice(0, limit);
    return { tombstones: out, cursor: out.length ? out[out.length - 1].seq : cursor };
  }

  private append(line: string): Promise<void> {
    return this.writes.run(() => fs.appendFile(this.file, line));
  }
}
