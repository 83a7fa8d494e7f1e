import * as fs from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Agent } from 'undici';
import { log } from '../util/log.js';
import { clusterKey, RequestVerifier } from './auth.js';
import { Catalog } from './Catalog.js';
import { DiscoveryResponder } from './discovery.js';
import { Membership } from './Membership.js';
import { NodeServer } from './NodeServer.js';
import { NodeStorage } from './NodeStorage.js';
import { peerAgent, type PeerClient } from './PeerClient.js';
import type { NodeStatus } from './protocol.js';
import { repairCluster, type RepairReport } from './repair.js';

export interface NodeOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Address announced to others (default host:actual port). */
  advertise?: string;
  capacity: number;
  secret: string;
  peers: string[];
  /** UDP discovery port, or null for none. */
  discoveryPort: number | null;
  discoveryAddress: string;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** Background scrub period: tombstone sync, catalog, and (on the leader) repair. Default 60 s. */
  scrubMs?: number;
  /** Copies the background repair keeps (default 2); 0 turns background repair off. */
  replicas?: number;
}

/**
 * One `mosaicfs node`: lends `capacity` bytes of DIR to the cluster. It serves blocks over
 * authenticated HTTP, answers discovery probes, heartbeats its peers, and scrubs in the
 * background: pulls peers' tombstones (dropping copies they make stale — this is how a node that
 * was offline forgets deleted blocks), refreshes the catalog, and, if it has the smallest id of
 * the live nodes, runs a repair pass (one repairer at a time keeps surplus-copy removal safe).
 */
export class PeerNode {
  private readonly cursors = new Map<string, number>();
  private scrubTimer?: NodeJS.Timeout;
  private scrubbing?: Promise<void>;
  private closed = false;
  lastRepair?: RepairReport;

  private constructor(
    readonly id: string,
    readonly address: string,
    private readonly opts: NodeOptions,
    private readonly storage: NodeStorage,
    private readonly server: NodeServer,
    private readonly responder: DiscoveryResponder | null,
    private readonly membership: Membership,
    private readonly catalog: Catalog,
    private readonly agent: Agent,
  ) {}

  static async start(opts: NodeOptions): Promise<PeerNode> {
    await fs.mkdir(opts.dataDir, { recursive: true });
    const id = await nodeId(opts.dataDir);
    const storage = await NodeStorage.open(opts.dataDir, opts.capacity);
    const catalog = await Catalog.open(path.join(opts.dataDir, 'catalog.json'));
    const key = clusterKey(opts.secret);
    const agent = peerAgent();
    let self: PeerNode | undefined;
    const server = new NodeServer({
      storage,
      verifier: new RequestVerifier(key),
      status: () => self!.status(),
      peers: () => [{ id, address: self!.address, state: 'alive' as const }, ...self!.membership.info()],
      catalog: (ns) => catalog.page(ns),
      learn: (a) => self?.membership.learn(a),
    });
    const bound = await server.listen(opts.host, opts.port);
    const address = opts.advertise ?? `${opts.host}:${bound.port}`;
    const membership = new Membership({
      key, dispatcher: agent, seeds: opts.peers, selfAddress: address,
      discovery: opts.discoveryPort !== null ? { port: opts.discoveryPort, address: opts.discoveryAddress } : undefined,
      heartbeatMs: opts.heartbeatMs, deadAfterMs: opts.deadAfterMs,
    });
    let responder: DiscoveryResponder | null = null;
    if (opts.discoveryPort !== null) {
      responder = new DiscoveryResponder(key, opts.discoveryPort, () => ({ id, address, free: storage.free, capacity: storage.capacity }));
      await responder.start();
    }
    self = new PeerNode(id, address, opts, storage, server, responder, membership, catalog, agent);
    await membership.start();
    self.scheduleScrub(0);
    return self;
  }

  status(): NodeStatus {
    const s = this.storage;
    return { id: this.id, address: this.address, capacity: s.capacity, used: s.used, free: s.free, blocks: s.blockCount };
  }

  private scheduleScrub(delayMs: number): void {
    if (this.closed) return;
    this.scrubTimer = setTimeout(() => {
      this.scrubbing = this.scrub().catch((err: unknown) => log.warn({ err }, 'scrub failed')).finally(() => this.scheduleScrub(this.opts.scrubMs ?? 60_000));
    }, delayMs);
  }

  /** Tombstone sync and catalog refresh; on the leader, a repair pass. */
  async scrub(): Promise<void> {
    await this.membership.refresh();
    const peers = this.membership.alive();
    const namespaces = new Set(await this.storage.namespaces());
    for (const p of peers) for (const ns of await p.client.namespaces().catch(() => [])) namespaces.add(ns);
    for (const ns of namespaces) {
      for (const p of peers) await this.pullTombstones(ns, p.id!, p.client);
      const mine: string[] = [];
      for (let after: string | null = ''; after !== null;) {
        const page = await this.storage.list(ns, after, 5000);
        for (const b of page.blocks) mine.push(b.id);
        after = page.next;
      }
      this.catalog.setHoldings(ns, this.id, mine);
      await Promise.all(peers.map(async (p) => {
        const ids: string[] = [];
        try {
          for await (const b of p.client.list(ns)) ids.push(b.id);
          this.catalog.setHoldings(ns, p.id!, ids);
        } catch { /* keep what we knew */ }
      }));
      for (const t of (await this.storage.space(ns)).tombstones.since(0).tombstones) this.catalog.forget(ns, t.id);
    }
    await this.catalog.save();
    const replicas = this.opts.replicas ?? 2;
    const leader = [this.id, ...peers.map((p) => p.id!)].sort()[0] === this.id;
    if (replicas > 0 && leader && !this.closed) {
      this.lastRepair = await repairCluster({ replicas, members: this.membership.all() });
      const r = this.lastRepair;
      if (r.copied || r.dropped || r.purged || r.lost.length) {
        log.info({ copied: r.copied, dropped: r.dropped, purged: r.purged, lost: r.lost.length }, 'background repair');
      }
    }
  }

  private async pullTombstones(ns: string, peerId: string, client: PeerClient): Promise<void> {
    const key = `${peerId}/${ns}`;
    for (let cursor = this.cursors.get(key) ?? 0; ;) {
      const page = await client.tombstones(ns, cursor).catch(() => null);
      if (!page || page.tombstones.length === 0) break;
      for (const t of page.tombstones) await this.storage.delete(ns, t.id, { kind: 'tombstone', deletedAt: t.deletedAt });
      cursor = page.cursor;
      this.cursors.set(key, cursor);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.scrubTimer);
    this.membership.stop();
    this.responder?.close();
    await this.server.close();
    await this.scrubbing?.catch(() => undefined);
    await this.agent.close();
    await this.storage.close();
  }
}

async function nodeId(dir: string): Promise<string> {
  const file = path.join(dir, 'node-id');
  try {
    const id = (await fs.readFile(file, 'utf8')).trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch { /* first start */ }
  const id = randomUUID();
  await fs.writeFile(file, id + '\n', { flag: 'w' });
  return id;
}
