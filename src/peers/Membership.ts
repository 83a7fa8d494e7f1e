import type { Dispatcher } from 'undici';
import { log } from '../util/log.js';
import type { ClusterKey } from './auth.js';
import { probe } from './discovery.js';
import { PeerClient } from './PeerClient.js';
import type { PeerInfo, PeerState } from './protocol.js';

export interface MembershipOptions {
  key: ClusterKey;
  dispatcher: Dispatcher;
  /** Static peers (host:port). */
  seeds: string[];
  /** UDP discovery (absent: off). */
  discovery?: { port: number; address: string };
  /** Our own HTTP address when we are a node (never treated as a peer). */
  selfAddress?: string;
  /** Heartbeat period (default 2000 ms). */
  heartbeatMs?: number;
  /** Missed heartbeats before a node is suspect (default 3). */
  suspectAfterMisses?: number;
  /** Silence after which a node is dead (default 10 s). */
  deadAfterMs?: number;
}

export interface Member {
  address: string;
  id: string | null;
  client: PeerClient;
  capacity: number;
  free: number;
  blocks: number;
  /** Last successful heartbeat (epoch ms), 0 = never. */
  lastSeen: number;
  missed: number;
  state: PeerState;
}

/**
 * Who is in the cluster and who is alive: static seeds, UDP discovery and the peers other nodes
 * know (gossip through GET /v1/peers), checked by an authenticated status request every
 * heartbeat. A node is suspect after `suspectAfterMisses` missed heartbeats (or at once when a
 * request to it fails), dead after `deadAfterMs` of silence; a dead node that answers again is alive.
 */
export class Membership {
  private readonly members = new Map<string, Member>();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;
  readonly heartbeatMs: number;
  private readonly suspectAfter: number;
  private readonly deadAfterMs: number;
  ignoredAnswers = 0;

  constructor(private readonly opts: MembershipOptions) {
    this.heartbeatMs = opts.heartbeatMs ?? 2000;
    this.suspectAfter = opts.suspectAfterMisses ?? 3;
    this.deadAfterMs = opts.deadAfterMs ?? 10_000;
    for (const a of opts.seeds) this.learn(a);
  }

  /** Runs a first round (discovery included) and then heartbeats in the background. */
  async start(): Promise<void> {
    await this.refresh();
    const tick = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.refresh().finally(tick), this.heartbeatMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  learn(address: string, id: string | null = null): void {
    if (address === this.opts.selfAddress) return;
    const known = this.members.get(address);
    if (known) {
      known.id ??= id;
      return;
    }
    // A node that restarted on another port: its old address is stale.
    if (id !== null && [...this.members.values()].some((m) => m.id === id && m.state === 'alive')) return;
    this.members.set(address, {
      address, id, client: new PeerClient(address, this.opts.key, this.opts.dispatcher, this.opts.selfAddress),
      capacity: 0, free: 0, blocks: 0, lastSeen: 0, missed: 0, state: 'suspect',
    });
  }

  /** One heartbeat round (concurrent calls share the round). */
  refresh(): Promise<void> {
    this.round ??= this.doRefresh().finally(() => { this.round = undefined; });
    return this.round;
  }

  private async doRefresh(): Promise<void> {
    const { discovery } = this.opts;
    const found = discovery
      ? probe(this.opts.key, { ...discovery, waitMs: Math.min(300, this.heartbeatMs / 2), onIgnored: () => this.ignoredAnswers++ })
      : Promise.resolve([]);
    await Promise.all([...this.members.values()].map((m) => this.heartbeat(m)));
    for (const a of await found) this.learn(a.address, a.id);
    // Gossip: what one live node knows about the others.
    const alive = this.alive();
    if (alive.length > 0) {
      const pick = alive[Math.floor(Math.random() * alive.length)];
      try {
        for (const p of await pick.client.peers()) this.learn(p.address, p.id);
      } catch { /* it will miss a heartbeat */ }
    }
    await Promise.all([...this.members.values()].filter((m) => m.lastSeen === 0).map((m) => this.heartbeat(m)));
  }

  private async heartbeat(m: Member): Promise<void> {
    try {
      const s = await m.client.status();
      if (this.opts.selfAddress && s.address === this.opts.selfAddress) {
        this.members.delete(m.address); // ourselves under another name
        return;
      }
      for (const other of this.members.values()) {
        if (other !== m && other.id === s.id) this.members.delete(other.address); // its old address
      }
      Object.assign(m, { id: s.id, capacity: s.capacity, free: s.free, blocks: s.blocks, lastSeen: Date.now(), missed: 0, state: 'alive' });
    } catch (err) {
      this.missedHeartbeat(m, err);
    }
  }

  private missedHeartbeat(m: Member, err: unknown): void {
    const was = m.state;
    m.missed++;
    if (m.lastSeen === 0 || Date.now() - m.lastSeen >= this.deadAfterMs) m.state = 'dead';
    else if (m.missed >= this.suspectAfter) m.state = 'suspect';
    if (was === 'alive' && m.state !== 'alive') log.warn({ peer: m.address, err: (err as Error).message }, 'peer node not answering');
  }

  /** A request to a member failed: count it as missed heartbeats so placement avoids it at once. */
  noteFailure(m: Member, err?: unknown): void {
    const was = m.state;
    m.missed = Math.max(m.missed + 1, this.suspectAfter);
    m.state = m.lastSeen === 0 || Date.now() - m.lastSeen >= this.deadAfterMs ? 'dead' : 'suspect';
    if (was === 'alive') log.warn({ peer: m.address, err: (err as Error | undefined)?.message }, 'peer node not answering');
  }

  /** Members that answer (placement and reads use these first). */
  alive(): Member[] {
    return [...this.members.values()].filter((m) => m.state === 'alive' && m.id !== null);
  }

  /** Alive and suspect members (reads fall back to suspect ones). */
  reachable(): Member[] {
    return [...this.members.values()].filter((m) => m.state !== 'dead' && m.id !== null);
  }

  all(): Member[] {
    return [...this.members.values()];
  }

  info(): PeerInfo[] {
    return this.all().map((m) => ({ id: m.id, address: m.address, state: m.state }));
  }

  /** Waits until at least `n` members are alive (heartbeating meanwhile) or the time is up. */
  async waitForAlive(n: number, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.alive().length < n) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, Math.min(200, this.heartbeatMs)));
      await this.refresh();
    }
    return true;
  }
}
