import type { Agent } from 'undici';
import { BlockNotFoundError, FsError } from '../../errors.js';
import { clusterKey } from '../../peers/auth.js';
import { Membership, type Member } from '../../peers/Membership.js';
import { peerAgent, PeerRequestError } from '../../peers/PeerClient.js';
import { rank } from '../../peers/placement.js';
import { DEFAULT_DISCOVERY_PORT, DEFAULT_NAMESPACE, DEFAULT_REPLICAS, NAMESPACE_RE } from '../../peers/protocol.js';
import { readClusterSecret } from '../../peers/secret.js';
import type { PeersStoreConfig } from '../../volume/config.js';
import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../BlockStore.js';
import type { StoreContext } from '../openBlockStore.js';

/** No reachable node holds the block, and some nodes that might are down: the block may be lost. */
export class BlockUnavailableError extends BlockNotFoundError {
  constructor(blockId: string, readonly downNodes: string[]) {
    super(blockId);
    this.message = `EIO: block ${blockId} is on no live peer node (${downNodes.length} node(s) down: ${downNodes.join(', ')}); run \`mosaicfs repair\` to see which blocks are lost`;
    this.name = 'BlockUnavailableError';
  }
}

/** Fewer than R nodes could take a block because nodes are down or failing: transient (see block/compose/retry.ts isTransient). */
export class TooFewNodesError extends FsError {
  readonly transient = true;
  constructor(message: string) {
    super('EIO', message);
    this.name = 'TooFewNodesError';
  }
}

/** Unreachable, full (placement moved on) or failing on its side: a node that may take the block later. */
function isOutage(err: PeerRequestError): boolean {
  return err.unreachable || err.full || (err.status !== null && (err.status >= 500 || err.status === 429 || err.status === 408));
}

/** Tuning that does not belong in a volume's config (tests shorten the timings). */
export interface PeerStoreOptions {
  /** Broadcast address for discovery (default $MOSAICFS_DISCOVERY_ADDRESS or 255.255.255.255). */
  discoveryAddress?: string;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** How long open() waits for enough live nodes (default 5 s). */
  startTimeoutMs?: number;
}

/**
 * Blocks on a mesh of `mosaicfs node`s. Each block goes to the top R nodes of a weighted
 * rendezvous ranking of the live nodes (weights: free capacity), skipping nodes that are full
 * (507) or failing. put() returns only when R copies are stored: a write never silently has
 * fewer copies than the volume asked for (with fewer live nodes than R, writes fail with a transient
 * EIO, TooFewNodesError, which the data layer retries while the write-back cache keeps the data). Reads go down the ranking (the replicas first, then
 * every other reachable node, since blocks may sit off their ideal nodes after membership changes).
 * Deletes go to every reachable node as tombstones.
 */
export class PeerBlockStore implements BlockStore {
  readonly name: string;

  private constructor(
    private readonly membership: Membership,
    private readonly agent: Agent,
    readonly ns: string,
    readonly replicas: number,
  ) {
    this.name = `peers:${ns}(R=${replicas})`;
  }

  static async open(cfg: PeersStoreConfig, ctx: StoreContext, opts: PeerStoreOptions = {}): Promise<PeerBlockStore> {
    const ns = ctx.namespace ?? DEFAULT_NAMESPACE;
    if (!NAMESPACE_RE.test(ns)) throw new TypeError(`invalid namespace ${JSON.stringify(ns)}`);
    const replicas = cfg.replicas ?? DEFAULT_REPLICAS;
    if (!Number.isInteger(replicas) || replicas < 1) throw new FsError('EINVAL', `replicas must be a positive integer, not ${replicas}`);
    const secret = await readClusterSecret({ secretFile: cfg.secretFile, secretEnv: cfg.secretEnv, baseDir: ctx.volumeDir });
    const discoveryOn = cfg.discovery !== false && cfg.discoveryPort !== 0;
    const agent = peerAgent(opts.requestTimeoutMs);
    const membership = new Membership({
      key: clusterKey(secret), dispatcher: agent, seeds: cfg.peers ?? [],
      discovery: discoveryOn ? {
        port: cfg.discoveryPort ?? DEFAULT_DISCOVERY_PORT,
        address: opts.discoveryAddress ?? process.env.MOSAICFS_DISCOVERY_ADDRESS ?? '255.255.255.255',
      } : undefined,
      heartbeatMs: opts.heartbeatMs, deadAfterMs: opts.deadAfterMs,
    });
    await membership.start();
    if (!(await membership.waitForAlive(replicas, opts.startTimeoutMs ?? 5000)) && membership.alive().length === 0) {
      membership.stop();
      await agent.close();
      throw new FsError('EIO', `no peer node answered (static peers: ${(cfg.peers ?? []).join(', ') || 'none'}; discovery ${discoveryOn ? 'on' : 'off'})`);
    }
    return new PeerBlockStore(membership, agent, ns, replicas);
  }

  /** Live nodes (for tests, `df` and repair). */
  nodes(): Member[] {
    return this.membership.alive();
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    const candidates = rank(this.membership.alive(), id);
    const copy = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let next = 0;
    let stored = 0;
    const failures: PeerRequestError[] = [];
    // R lanes; each moves down the ranking past full or failing nodes.
    const lane = async (): Promise<void> => {
      while (next < candidates.length) {
        const m = candidates[next++];
        try {
          await m.client.put(this.ns, id, copy);
          stored++;
          return;
        } catch (err) {
          if (!(err instanceof PeerRequestError)) throw err;
          failures.push(err);
          if (!err.full) this.membership.noteFailure(m, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.replicas, candidates.length) }, lane));
    if (stored >= this.replicas) return;
    const allFull = failures.length > 0 && failures.every((f) => f.full);
    const detail = `block ${id}: stored ${stored} of ${this.replicas} copies on ${candidates.length} live node(s)` +
      (failures.length ? ` (${failures.map((f) => f.message).join('; ')})` : '');
    if (allFull) throw new FsError('ENOSPC', detail);
    // Too few nodes up (or answering) is an outage that may end: the data layer retries it until
    // its deadline and keeps the data buffered. A node that refuses us (auth, a bad request) is not.
    if (failures.every(isOutage)) throw new TooFewNodesError(detail);
    throw new FsError('EIO', detail);
  }

  async get(id: string): Promise<Buffer> {
    assertBlockId(id);
    return this.read(id, (m) => m.client.get(this.ns, id));
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertBlockId(id);
    assertByteRange(offset, length);
    return this.read(id, (m) => m.client.getRange(this.ns, id, offset, length));
  }

  /** Tries nodes in ranking order (alive, then suspect) until one has the block. */
  private async read(id: string, fetch: (m: Member) => Promise<Buffer | null>): Promise<Buffer> {
    const order = [...rank(this.membership.alive(), id), ...rank(this.membership.reachable().filter((m) => m.state !== 'alive'), id)];
    let failed = 0;
    for (const m of order) {
      try {
        const got = await fetch(m);
        if (got) return got;
      } catch (err) {
        if (!(err instanceof PeerRequestError)) throw err;
        failed++;
        if (!err.full) this.membership.noteFailure(m, err);
      }
    }
    const down = this.membership.all().filter((m) => m.state !== 'alive').map((m) => m.address);
    if (failed > 0 || down.length > 0) throw new BlockUnavailableError(id, down);
    throw new BlockNotFoundError(id);
  }

  async has(id: string): Promise<boolean> {
    assertBlockId(id);
    for (const m of rank(this.membership.alive(), id)) {
      try {
        if (await m.client.head(this.ns, id)) return true;
      } catch (err) {
        if (!(err instanceof PeerRequestError)) throw err;
        this.membership.noteFailure(m, err);
      }
    }
    return false;
  }

  async delete(id: string): Promise<void> {
    assertBlockId(id);
    const targets = this.membership.reachable();
    const results = await Promise.allSettled(targets.map((m) => m.client.delete(this.ns, id)));
    // Nodes that miss the delete learn it from the others' tombstones when they are back.
    if (targets.length > 0 && results.every((r) => r.status === 'rejected')) {
      throw new FsError('EIO', `delete of block ${id} reached no peer node: ${(results[0] as PromiseRejectedResult).reason}`);
    }
  }

  /** Union of the live nodes' listings, minus blocks a tombstone says are stale. */
  async *list(): AsyncIterable<BlockInfo> {
    const nodes = this.membership.alive();
    const seen = new Map<string, BlockInfo & { mtimeMs: number }>();
    const deleted = new Map<string, number>();
    await Promise.all(nodes.map(async (m) => {
      for await (const b of m.client.list(this.ns)) {
        const old = seen.get(b.id);
        if (!old || old.mtimeMs < b.mtimeMs) seen.set(b.id, b);
      }
      for (let cursor = 0; ;) {
        const page = await m.client.tombstones(this.ns, cursor);
        if (page.tombstones.length === 0) break;
        for (const t of page.tombstones) deleted.set(t.id, Math.max(deleted.get(t.id) ?? 0, t.deletedAt));
        cursor = page.cursor;
      }
    }));
    for (const b of seen.values()) {
      if ((deleted.get(b.id) ?? -1) > b.mtimeMs) continue;
      yield b;
    }
  }

  async sync(): Promise<void> {
    const results = await Promise.allSettled(this.membership.alive().map((m) => m.client.sync(this.ns)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw new FsError('EIO', `sync: ${failed.reason}`);
  }

  private closing?: Promise<void>;

  close(): Promise<void> {
    this.membership.stop();
    this.closing ??= this.agent.close();
    return this.closing;
  }
}
