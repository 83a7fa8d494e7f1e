import { FsError } from '../errors.js';
import { KeyedMutex } from '../util/mutex.js';
import { log } from '../util/log.js';
import type { InodeAttr } from '../meta/MetaStore.js';
import type { OpenLeases } from '../vfs/OpenLeases.js';
import type { HttpClient } from './HttpClient.js';
import { ROUTES, type LeaseRequest, type OpenRequest, type OpenResponse } from './protocol.js';
import { ProtocolError } from './remoteErrors.js';
import { decodeWire } from './wireCodec.js';

/** The server's lease time to live (src/server/Coordinator.ts LEASE_TTL_MS). */
export const SERVER_LEASE_TTL_MS = 60_000;
/**
 * How long a write lease the server granted with a `create` (or an open recorded by openWithAttr)
 * waits for the acquire that follows it (the VFS opens a created file at once; mknod never does;
 * an open refused by a permission check never acquires) before it is given back.
 */
export const CREATE_GRANT_TTL_MS = 1_000;

interface Held {
  readers: number;
  writers: number;
  /** What the server knows: 'read' (opened) or 'write' (opened, write lease held). */
  server: 'read' | 'write';
}

/**
 * Open files as the server must know them (the two-writers rule). Local handles are counted per
 * inode; the server hears only of the first open (acquire, write=true when it is a writer), of the
 * first writer joining readers (acquire write), of the last writer leaving readers behind (release
 * write=true: the server drops the write lease, the file stays open), and of the last close
 * (release write=false: the server drops the open and any write lease). A 409 EBUSY from the server
 * becomes FsError('EBUSY').
 *
 * A file this client creates comes with its write lease and open already taken by the server in the
 * same request as the create (`granted`, see LEASE_ON_CREATE_HEADER): the open that follows needs
 * no round trip, and no other client can slip in between the create and the lease.
 *
 * The last close of a file opened only for reading is not waited for: its release carries no
 * promise to other clients (only a purge of the inode waits for it), and a later open of the same
 * inode queues behind it, so the server sees them in order.
 *
 * An open of an existing file revalidates its attributes and records the open on the server in one
 * request (`openWithAttr`, called by the cache's getattr right before the VFS acquires): a
 * read-only acquire that follows needs no round trip, a write acquire upgrades it.
 *
 * While anything is held, a timer touches the server every TTL/3 (the server also counts every
 * request and the event stream), so leases of an idle but open file do not expire.
 */
export class RemoteOpenLeases implements OpenLeases {
  private readonly held = new Map<number, Held>();
  /** Server opens (write: with the write lease, from a create) not yet claimed by an acquire. */
  private readonly grants = new Map<number, { timer: NodeJS.Timeout; write: boolean }>();
  private readonly locks = new KeyedMutex<number>();
  private timer: NodeJS.Timeout | null = null;
  /** The server predates POST /v1/open. */
  private noOpenRoute = false;

  constructor(private readonly http: HttpClient, private readonly keepAliveMs = SERVER_LEASE_TTL_MS / 3) {}

  /** Inodes with at least one local handle open. */
  openInodes(): number[] {
    return [...this.held.keys()];
  }

  /** Nothing open here and no open granted with a create still waiting for its acquire. */
  idle(): boolean {
    return this.held.size === 0 && this.grants.size === 0;
  }

  isWriteHeld(ino: number): boolean {
    return this.held.get(ino)?.server === 'write';
  }

  /** The server took the write lease and the open of `ino` for this client along with its create. */
  granted(ino: number): void {
    this.grant(ino, true);
  }

  /**
   * Record an open of `ino` on the server and return its attributes read after it (one request).
   * Queued behind any release of the same inode, so the server sees open and close in order.
   * null: the server does not know the route (the caller reads the attributes itself and the
   * acquire that follows records the open).
   */
  openWithAttr(ino: number): Promise<InodeAttr | null> {
    if (this.noOpenRoute) return Promise.resolve(null);
    return this.locks.run(ino, async () => {
      const body: OpenRequest = { ino };
      let res: OpenResponse;
      try {
        res = await this.http.json<OpenResponse>('POST', ROUTES.open, body);
      } catch (err) {
        // A server older than the route answers 404 EBADREQ "no route": open as before.
        if (err instanceof ProtocolError && err.status === 404) {
          this.noOpenRoute = true;
          return null;
        }
        throw err;
      }
      this.grant(ino, false);
      return decodeWire(res.attr) as InodeAttr;
    });
  }

  private grant(ino: number, write: boolean): void {
    if (this.held.has(ino) || this.grants.has(ino)) return; // the server already counts it open
    const timer = setTimeout(() => void this.giveBack(ino), CREATE_GRANT_TTL_MS);
    timer.unref();
    this.grants.set(ino, { timer, write });
  }

  acquire(ino: number, write: boolean): Promise<void> {
    return this.locks.run(ino, async () => {
      const h = this.held.get(ino);
      if (!h) {
        // A read-only open of a just-created file (O_CREAT|O_RDONLY) keeps the granted write lease
        // until it closes, as a writer would: stricter than needed, never looser.
        const grant = this.claimGrant(ino);
        let server: Held['server'];
        if (grant === 'write' || (grant === 'read' && !write)) server = grant;
        else {
          await this.send(ROUTES.leaseAcquire, { ino, write });
          server = write ? 'write' : 'read';
        }
        this.held.set(ino, { readers: write ? 0 : 1, writers: write ? 1 : 0, server });
        this.startKeepAlive();
        return;
      }
      if (write && h.server !== 'write') {
        await this.send(ROUTES.leaseAcquire, { ino, write: true });
        h.server = 'write';
      }
      if (write) h.writers++;
      else h.readers++;
    });
  }

  release(ino: number, write: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.locks.run(ino, async () => {
        const h = this.held.get(ino);
        if (!h) return;
        if (write) h.writers = Math.max(0, h.writers - 1);
        else h.readers = Math.max(0, h.readers - 1);
        if (h.readers + h.writers === 0) {
          this.held.delete(ino);
          if (this.held.size === 0 && this.grants.size === 0) this.stopKeepAlive();
          if (h.server === 'read') resolve(); // nobody waits on a reader's close; the lock keeps the order
          await this.send(ROUTES.leaseRelease, { ino, write: false }).catch((err) => {
            // The lease expires on the server by itself; a failed release must not fail close().
            log.warn({ err: (err as Error).message, ino }, 'lease release failed; it will expire on the server');
          });
          return;
        }
        if (h.writers === 0 && h.server === 'write') {
          h.server = 'read';
          await this.send(ROUTES.leaseRelease, { ino, write: true }).catch((err) => {
            log.warn({ err: (err as Error).message, ino }, 'write lease downgrade failed');
          });
        }
      }).then(resolve, reject);
    });
  }

  /** Forget local state (after the session closed); the server drops the client's leases at logout or expiry. */
  async releaseAll(): Promise<void> {
    this.stopKeepAlive();
    const inos = [...this.held.keys(), ...this.grants.keys()];
    for (const g of this.grants.values()) clearTimeout(g.timer);
    this.grants.clear();
    this.held.clear();
    await Promise.allSettled(inos.map((ino) => this.locks.run(ino, () => this.send(ROUTES.leaseRelease, { ino, write: false }))));
  }

  private claimGrant(ino: number): 'read' | 'write' | null {
    const g = this.grants.get(ino);
    if (g === undefined) return null;
    clearTimeout(g.timer);
    this.grants.delete(ino);
    return g.write ? 'write' : 'read';
  }

  /** A grant nobody opened (mknod of a regular file, a refused open): the server must not keep it. */
  private giveBack(ino: number): Promise<void> {
    return this.locks.run(ino, async () => {
      if (this.claimGrant(ino) === null) return;
      if (this.held.size === 0 && this.grants.size === 0) this.stopKeepAlive();
      await this.send(ROUTES.leaseRelease, { ino, write: false }).catch((err) => {
        log.warn({ err: (err as Error).message, ino }, 'returning a create lease failed; it will expire on the server');
      });
    });
  }

  private async send(route: string, body: LeaseRequest): Promise<void> {
    try {
      await this.http.json('POST', route, body);
    } catch (err) {
      if (err instanceof FsError && err.code === 'EBUSY') {
        throw new FsError('EBUSY', `inode ${body.ino} is open for writing on another client (one writer at a time)`);
      }
      throw err;
    }
  }

  private startKeepAlive(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.http.request({ method: 'GET', path: ROUTES.whoami, retryForMs: 5_000 }).catch((err) => {
        log.warn({ err: (err as Error).message }, 'lease keep-alive failed');
      });
    }, this.keepAliveMs);
    this.timer.unref();
  }

  private stopKeepAlive(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
