import pg from 'pg';
import { migrateSchema } from '../../meta/postgres/migrate.js';
import { retrying, runText } from '../../meta/postgres/pgClient.js';
import type { ChangeEvent } from '../../remote/protocol.js';
import { log } from '../../util/log.js';
import { LEASE_TTL_MS, type Coordinator } from '../Coordinator.js';
import { SERVER_MIGRATIONS, SERVER_SCHEMA } from './schema.js';

const S = `"${SERVER_SCHEMA}"`;
/** The one NOTIFY channel of a deployment; payload JSON {userId, event}. */
export const EVENT_CHANNEL = 'mosaicfs_changes';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay below with room to spare. */
export const MAX_PAYLOAD_BYTES = 7900;
/** Epoch ms by the database clock: every server judges liveness by the same clock. */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

export interface PostgresCoordinatorOptions {
  pool: pg.Pool;
  /** Connection string for the dedicated LISTEN connection. */
  url: string;
  ttlMs?: number;
}

/**
 * Coordinator for several servers on one database. Clients, write leases and opens are rows in the
 * `mosaicfs` schema; a client is live while its last sign of life (`clients.seen`, database clock)
 * is younger than the TTL, and a lease or open of a client that is not live counts for nothing (it
 * is overwritten by the next taker). Every change is one statement on a SERIALIZABLE pool, rerun on
 * conflict, so two servers cannot both grant one lease.
 *
 * Events travel by NOTIFY on one channel and reach every server's LISTEN connection (including the
 * publisher's own), which hands them to local subscribers of that user. An event too large for one
 * NOTIFY payload is split into several smaller events (its lists cut in halves until each fits):
 * clients only ever drop caches for what an event names, so several partial events mean the same.
 */
export class PostgresCoordinator implements Coordinator {
  private readonly pool: pg.Pool;
  private readonly url: string;
  private readonly ttlMs: number;
  private readonly subscribers = new Map<string, Set<(event: ChangeEvent) => void>>();
  private listener: pg.Client | null = null;
  private shutDown = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  static async open(opts: PostgresCoordinatorOptions): Promise<PostgresCoordinator> {
    await migrateSchema(opts.pool, SERVER_SCHEMA, SERVER_MIGRATIONS);
    const c = new PostgresCoordinator(opts);
    await c.listen();
    return c;
  }

  private constructor(opts: PostgresCoordinatorOptions) {
    this.pool = opts.pool;
    this.url = opts.url;
    this.ttlMs = opts.ttlMs ?? LEASE_TTL_MS;
  }

  async acquireWrite(userId: string, ino: number, clientId: string): Promise<boolean> {
    const rows = await this.q(`WITH seen AS (${this.seenSql()})
      INSERT INTO ${S}.leases (user_id, ino, client_id) VALUES ($1, $2, $3)
      ON CONFLICT (user_id, ino) DO UPDATE SET client_id = EXCLUDED.client_id
        WHERE ${S}.leases.client_id = EXCLUDED.client_id OR NOT EXISTS (
          SELECT 1 FROM ${S}.clients c WHERE c.user_id = ${S}.leases.user_id AND c.client_id = ${S}.leases.client_id
            AND c.seen > ${NOW_MS} - $4)
      RETURNING client_id`, [userId, ino, clientId, this.ttlMs]);
    return rows.length === 1;
  }

  async releaseWrite(userId: string, ino: number, clientId: string): Promise<void> {
    await this.q(`DELETE FROM ${S}.leases WHERE user_id = $1 AND ino = $2 AND client_id = $3`, [userId, ino, clientId]);
  }

  async opened(userId: string, ino: number, clientId: string): Promise<void> {
    await this.q(`WITH seen AS (${this.seenSql()})
      INSERT INTO ${S}.opens (user_id, ino, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [userId, ino, clientId]);
  }

  async closed(userId: string, ino: number, clientId: string): Promise<void> {
    await this.q(`DELETE FROM ${S}.opens WHERE user_id = $1 AND ino = $2 AND client_id = $3`, [userId, ino, clientId]);
  }

  async openElsewhere(userId: string, inos: number[], exceptClient: string): Promise<Set<number>> {
    if (inos.length === 0) return new Set();
    const rows = await this.q<{ ino: number }>(`SELECT DISTINCT o.ino FROM ${S}.opens o
      JOIN ${S}.clients c ON c.user_id = o.user_id AND c.client_id = o.client_id
      WHERE o.user_id = $1 AND o.ino = ANY($2::bigint[]) AND o.client_id <> $3 AND c.seen > ${NOW_MS} - $4`,
    [userId, inos, exceptClient, this.ttlMs]);
    return new Set(rows.map((r) => r.ino));
  }

  async touch(userId: string, clientId: string): Promise<void> {
    await this.q(this.seenSql('$1', '$2'), [userId, clientId]);
  }

  async dropClient(userId: string, clientId: string): Promise<void> {
    await this.q(`WITH l AS (DELETE FROM ${S}.leases WHERE user_id = $1 AND client_id = $2),
      o AS (DELETE FROM ${S}.opens WHERE user_id = $1 AND client_id = $2)
      DELETE FROM ${S}.clients WHERE user_id = $1 AND client_id = $2`, [userId, clientId]);
  }

  async publish(userId: string, event: ChangeEvent): Promise<void> {
    for (const payload of payloads(userId, event)) {
      await runText(this.pool, 'SELECT pg_notify($1, $2)', [EVENT_CHANNEL, payload]);
    }
  }

  subscribe(userId: string, onEvent: (event: ChangeEvent) => void): () => void {
    let set = this.subscribers.get(userId);
    if (!set) this.subscribers.set(userId, (set = new Set()));
    set.add(onEvent);
    return () => {
      set!.delete(onEvent);
      if (set!.size === 0 && this.subscribers.get(userId) === set) this.subscribers.delete(userId);
    };
  }

  async close(): Promise<void> {
    this.shutDown = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    if (l) await l.end().catch(() => undefined);
    this.subscribers.clear();
  }

  /** Upsert the client's last sign of life (user and client as the given parameters). */
  private seenSql(user = '$1', client = '$3'): string {
    return `INSERT INTO ${S}.clients (user_id, client_id, seen) VALUES (${user}, ${client}, ${NOW_MS})
      ON CONFLICT (user_id, client_id) DO UPDATE SET seen = EXCLUDED.seen`;
  }

  private q<R = any>(text: string, values: unknown[]): Promise<R[]> {
    return retrying(() => runText<R>(this.pool, text, values));
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      if (msg.channel === EVENT_CHANNEL && msg.payload) this.deliver(msg.payload);
    });
    client.on('error', (err) => {
      log.warn({ err }, 'PostgreSQL event listener failed; reconnecting');
      this.reconnect(client);
    });
    client.on('end', () => this.reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${EVENT_CHANNEL}`);
    this.listener = client;
  }

  private reconnect(old: pg.Client): void {
    if (this.shutDown || this.listener !== old || this.reconnectTimer) return;
    this.listener = null;
    old.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.shutDown) return;
      this.listen().catch((err) => {
        log.warn({ err }, 'PostgreSQL event listener could not reconnect');
        this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; void this.listen().catch(() => undefined); }, 2000);
      });
    }, 500);
  }

  private deliver(payload: string): void {
    let msg: { userId: string; event: ChangeEvent };
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    const set = this.subscribers.get(msg.userId);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(msg.event);
      } catch {
        // a broken subscriber must not stop the others
      }
    }
  }
}

/** The NOTIFY payloads for one event: one, or several partial events when it is too large. */
export function payloads(userId: string, event: ChangeEvent): string[] {
  const text = JSON.stringify({ userId, event });
  if (Buffer.byteLength(text, 'utf8') < MAX_PAYLOAD_BYTES) return [text];
  const half = <T>(xs: T[], first: boolean) => (first ? xs.slice(0, Math.ceil(xs.length / 2)) : xs.slice(Math.ceil(xs.length / 2)));
  const parts = [true, false].map((first) => ({
    origin: event.origin,
    inos: half(event.inos, first),
    entries: half(event.entries, first),
    data: half(event.data, first),
  }));
  return parts.filter((p) => p.inos.length + p.entries.length + p.data.length > 0).flatMap((p) => payloads(userId, p));
}
