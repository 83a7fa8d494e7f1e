import { log } from '../util/log.js';
import type { Member } from './Membership.js';
import { PeerRequestError } from './PeerClient.js';
import { rank } from './placement.js';

export interface LostBlock {
  ns: string;
  id: string;
  /** The nodes that held it at the last scrub (all now down). */
  lastHolders: string[];
}

export interface RepairReport {
  namespaces: string[];
  /** Distinct live blocks examined. */
  checked: number;
  /** Copies made to bring blocks back to R. */
  copied: number;
  /** Surplus copies removed (only when every node is alive and the R ideal nodes hold the block). */
  dropped: number;
  /** Stale copies removed because a tombstone is newer. */
  purged: number;
  /** Blocks with fewer than R copies after repair (not enough live nodes with room). */
  underReplicated: { ns: string; id: string; copies: number }[];
  lost: LostBlock[];
}

export interface RepairOptions {
  replicas: number;
  /** Every known member: live ones are used, the others make the cluster "not whole". */
  members: Member[];
  /** Only report; change nothing. */
  dryRun?: boolean;
  parallel?: number;
}

interface Copy {
  node: Member;
  mtimeMs: number;
}

/**
 * Restores R live copies of every block: lists every live node's blocks, tombstones and catalog
 * (which nodes held which blocks at their last scrub, so blocks whose every holder is down are
 * known and reported as LOST instead of silently missing), then per block: purge stale copies
 * older than a tombstone, copy under-replicated blocks to the next nodes in their ranking, and
 * drop surplus copies off non-ideal nodes when the whole cluster is alive.
 */
export async function repairCluster(opts: RepairOptions): Promise<RepairReport> {
  const live = opts.members.filter((m) => m.state === 'alive' && m.id !== null);
  const whole = live.length === opts.members.length;
  const idOf = new Map(opts.members.filter((m) => m.id).map((m) => [m.id!, m.address]));
  const report: RepairReport = { namespaces: [], checked: 0, copied: 0, dropped: 0, purged: 0, underReplicated: [], lost: [] };
  const nsSets = await Promise.all(live.map((m) => m.client.namespaces()));
  report.namespaces = [...new Set(nsSets.flat())].sort();

  for (const ns of report.namespaces) {
    const copies = new Map<string, Copy[]>();
    const deleted = new Map<string, number>();
    const known = new Map<string, Set<string>>();
    await Promise.all(live.map(async (node) => {
      for await (const b of node.client.list(ns)) {
        let list = copies.get(b.id);
        if (!list) copies.set(b.id, (list = []));
        list.push({ node, mtimeMs: b.mtimeMs });
      }
      for (let cursor = 0; ;) {
        const page = await node.client.tombstones(ns, cursor);
        if (page.tombstones.length === 0) break;
        for (const t of page.tombstones) deleted.set(t.id, Math.max(deleted.get(t.id) ?? 0, t.deletedAt));
        cursor = page.cursor;
      }
      for (const [id, holders] of (await node.client.catalog(ns)).entries) {
        let set = known.get(id);
        if (!set) known.set(id, (set = new Set()));
        for (const h of holders) set.add(h);
      }
    }));

    const ids = [...new Set([...copies.keys(), ...known.keys()])].sort();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++];
        try {
          await repairBlock(ns, id, copies.get(id) ?? [], deleted.get(id), known.get(id), { ...opts, live, whole, idOf, report });
        } catch (err) {
          log.warn({ ns, id, err: (err as Error).message }, 'repair of a block failed');
          report.underReplicated.push({ ns, id, copies: copies.get(id)?.length ?? 0 });
        }
      }
    };
    await Promise.all(Array.from({ length: opts.parallel ?? 8 }, worker));
  }
  report.lost.sort((a, b) => (a.ns + a.id < b.ns + b.id ? -1 : 1));
  return report;
}

async function repairBlock(
  ns: string, id: string, have: Copy[], deletedAt: number | undefined, knownHolders: Set<string> | undefined,
  ctx: RepairOptions & { live: Member[]; whole: boolean; idOf: Map<string, string>; report: RepairReport },
): Promise<void> {
  const { report, replicas } = ctx;
  const newest = Math.max(-1, ...have.map((c) => c.mtimeMs));
  if (deletedAt !== undefined && deletedAt > newest) {
    // Deleted: any copy left is stale (e.g. on a node that was offline during the delete).
    if (!ctx.dryRun) await Promise.all(have.map((c) => c.node.client.delete(ns, id)));
    report.purged += have.length;
    return;
  }
  if (have.length === 0) {
    report.lost.push({ ns, id, lastHolders: [...(knownHolders ?? [])].map((h) => ctx.idOf.get(h) ?? h).sort() });
    return;
  }
  report.checked++;
  const ranking = rank(ctx.live, id);
  const holders = new Set(have.map((c) => c.node.address));
  if (have.length < replicas) {
    if (ctx.dryRun) {
      report.underReplicated.push({ ns, id, copies: have.length });
      return;
    }
    const data = await readAny(ns, id, have);
    let count = have.length;
    for (const target of ranking) {
      if (count >= replicas) break;
      if (holders.has(target.address)) continue;
      try {
        await target.client.put(ns, id, data);
        count++;
        report.copied++;
      } catch (err) {
        if (!(err instanceof PeerRequestError)) throw err;
      }
    }
    if (count < replicas) report.underReplicated.push({ ns, id, copies: count });
    return;
  }
  if (have.length > replicas && ctx.whole) {
    const ideal = ranking.slice(0, replicas);
    if (!ideal.every((m) => holders.has(m.address))) return;
    // Check again right before dropping: the ideal copies must really be there.
    const present = await Promise.all(ideal.map((m) => m.client.head(ns, id).catch(() => null)));
    if (present.some((p) => p === null)) return;
    for (const c of have) {
      if (ideal.includes(c.node)) continue;
      if (!ctx.dryRun) await c.node.client.delete(ns, id, true);
      report.dropped++;
    }
  }
}

async function readAny(ns: string, id: string, have: Copy[]): Promise<Buffer> {
  let last: unknown;
  for (const c of have) {
    try {
      const data = await c.node.client.get(ns, id);
      if (data) return data;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no live copy of ${id} could be read: ${(last as Error | undefined)?.message ?? 'gone'}`);
}
