import type { ChangeEvent } from '../remote/protocol.js';
import { LEASE_TTL_MS, type Coordinator } from './Coordinator.js';

interface UserState {
  /** clientId -> last time it was seen (epoch ms). */
  clients: Map<string, number>;
  /** ino -> clientId holding the write lease. */
  writers: Map<number, string>;
  /** ino -> clients that have it open. */
  opens: Map<number, Set<string>>;
  listeners: Set<(event: ChangeEvent) => void>;
}

/**
 * Coordinator for one server process (SQLite mode): everything in memory. A client is live while
 * it was seen less than `ttlMs` ago; leases and opens of a client that is not live are ignored
 * (and dropped when next looked at), so a crashed client's lease expires without any timer.
 */
export class InProcessCoordinator implements Coordinator {
  private readonly users = new Map<string, UserState>();

  constructor(private readonly ttlMs: number = LEASE_TTL_MS, private readonly clock: () => number = Date.now) {}

  async acquireWrite(userId: string, ino: number, clientId: string): Promise<boolean> {
    const u = this.user(userId);
    const holder = u.writers.get(ino);
    if (holder !== undefined && holder !== clientId && this.live(u, holder)) return false;
    u.writers.set(ino, clientId);
    this.seen(u, clientId);
    return true;
  }

  async releaseWrite(userId: string, ino: number, clientId: string): Promise<void> {
    const u = this.user(userId);
    if (u.writers.get(ino) === clientId) u.writers.delete(ino);
  }

  async opened(userId: string, ino: number, clientId: string): Promise<void> {
    const u = this.user(userId);
    let set = u.opens.get(ino);
    if (!set) u.opens.set(ino, (set = new Set()));
    set.add(clientId);
    this.seen(u, clientId);
  }

  async closed(userId: string, ino: number, clientId: string): Promise<void> {
    const u = this.user(userId);
    const set = u.opens.get(ino);
    if (!set) return;
    set.delete(clientId);
    if (set.size === 0) u.opens.delete(ino);
  }

  async openElsewhere(userId: string, inos: number[], exceptClient: string): Promise<Set<number>> {
    const u = this.user(userId);
    const out = new Set<number>();
    for (const ino of inos) {
      const set = u.opens.get(ino);
      if (!set) continue;
      for (const c of set) {
        if (c === exceptClient) continue;
        if (this.live(u, c)) {
          out.add(ino);
          break;
        }
      }
    }
    return out;
  }

  async touch(userId: string, clientId: string): Promise<void> {
    this.seen(this.user(userId), clientId);
  }

  async dropClient(userId: string, clientId: string): Promise<void> {
    const u = this.users.get(userId);
    if (!u) return;
    this.forget(u, clientId);
  }

  async publish(userId: string, event: ChangeEvent): Promise<void> {
    const u = this.users.get(userId);
    if (!u) return;
    for (const fn of [...u.listeners]) {
      try {
        fn(event);
      } catch {
        // a broken subscriber must not stop the others
      }
    }
  }

  subscribe(userId: string, onEvent: (event: ChangeEvent) => void): () => void {
    const u = this.user(userId);
    u.listeners.add(onEvent);
    return () => u.listeners.delete(onEvent);
  }

  async close(): Promise<void> {
    this.users.clear();
  }

  private user(userId: string): UserState {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { clients: new Map(), writers: new Map(), opens: new Map(), listeners: new Set() }));
    return u;
  }

  private seen(u: UserState, clientId: string): void {
    u.clients.set(clientId, this.clock());
  }

  /** Live, or forgotten on the way: an expired client loses every lease and open it held. */
  private live(u: UserState, clientId: string): boolean {
    const at = u.clients.get(clientId);
    if (at !== undefined && this.clock() - at < this.ttlMs) return true;
    this.forget(u, clientId);
    return false;
  }

  private forget(u: UserState, clientId: string): void {
    u.clients.delete(clientId);
    for (const [ino, holder] of u.writers) if (holder === clientId) u.writers.delete(ino);
    for (const [ino, set] of u.opens) {
      set.delete(clientId);
      if (set.size === 0) u.opens.delete(ino);
    }
  }
}
