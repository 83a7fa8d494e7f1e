import type { ChangeEvent } from '../remote/protocol.js';

/**
 * What the servers of one deployment must agree on beyond the metadata itself: who holds an
 * open-for-write lease on a file, which clients are alive, and change events for client caches.
 * Engines: InProcessCoordinator (one server, SQLite) and PostgresCoordinator (several servers on
 * one database: leases in a table, events through LISTEN/NOTIFY).
 *
 * The two-writers rule (ARCHITECTURE.md): at most one client at a time holds the write lease of a
 * file; a second client's open for writing fails with EBUSY until the holder closes it or its
 * lease expires (the holder's client stopped renewing: crashed, disconnected).
 */
export interface Coordinator {
  /** Take (or re-take) the write lease of (userId, ino) for clientId. false if another live client holds it. */
  acquireWrite(userId: string, ino: number, clientId: string): Promise<boolean>;
  releaseWrite(userId: string, ino: number, clientId: string): Promise<void>;
  /** Record that a client opened / closed an inode (any mode), so orphans are purged only when no client holds them. */
  opened(userId: string, ino: number, clientId: string): Promise<void>;
  closed(userId: string, ino: number, clientId: string): Promise<void>;
  /** Inodes of userId that some live client other than `exceptClient` has open. */
  openElsewhere(userId: string, inos: number[], exceptClient: string): Promise<Set<number>>;
  /** The client is alive (any request, or its event stream is connected); leases live LEASE_TTL_MS past this. */
  touch(userId: string, clientId: string): Promise<void>;
  /** Drop everything a client held (logout, expiry). */
  dropClient(userId: string, clientId: string): Promise<void>;

  publish(userId: string, event: ChangeEvent): Promise<void>;
  /** Receive events of one user (from this server and, for PostgreSQL, from the others). Returns unsubscribe. */
  subscribe(userId: string, onEvent: (event: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}

export const LEASE_TTL_MS = 60_000;
