import { createHash } from 'node:crypto';

/**
 * Weighted rendezvous (highest random weight) hashing: each node scores -w / ln(h) where h is a
 * uniform hash of (node id, block id) in (0, 1), and a block's replicas are the top-scoring nodes.
 * A node's weight is its free capacity, rounded to quarter powers of two so that small changes in
 * free space do not reshuffle placement (a block then stays on the nodes that hold it).
 */
export interface Weighted {
  /** Node id (members whose id is not known yet are never ranked by callers). */
  id: string | null;
  free: number;
}

export function hash01(nodeId: string, blockId: string): number {
  const h = createHash('sha256').update(nodeId).update('\0').update(blockId).digest();
  // 53 bits, never 0 or 1.
  const v = (h.readUInt32BE(0) * 2 ** 21 + (h.readUInt32BE(4) >>> 11)) / 2 ** 53;
  return Math.min(Math.max(v, 2 ** -53), 1 - 2 ** -53);
}

export function weightOf(free: number): number {
  return 2 ** (Math.round(4 * Math.log2(Math.max(free, 0) + 1)) / 4) || 1;
}

/** Nodes in the order a block's replicas go to (best first). */
export function rank<T extends Weighted>(nodes: readonly T[], blockId: string): T[] {
  return nodes
    .map((n) => ({ n, score: -weightOf(n.free) / Math.log(hash01(n.id ?? '', blockId)) }))
    .sort((a, b) => b.score - a.score || ((a.n.id ?? '') < (b.n.id ?? '') ? -1 : 1))
    .map((x) => x.n);
}
