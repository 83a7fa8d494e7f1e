import { FsError } from '../errors.js';
import { KeyedMutex } from '../util/mutex.js';
import { log } from '../util/log.js';
import type { OpenLeases } from '../vfs/OpenLeases.js';
import type { HttpClient } from './HttpClient.js';
import { ROUTES, type LeaseRequest } from './protocol.js';

/** The server's lease time to live (src/server/Coordinator.ts LEASE_TTL_MS). */
export const SERVER_LEASE_TTL_MS = 60_000;

interface Held {
  readers: number;
  writers: number;
  /** What the server knows: 'read' (opened) or 'write' (write lease held). */
  server: 'read' | 'write';
}

/**
 * Open files as the server must know them (the two-writers rule). Local handles are counted per
 * inode; the server hears only of the first open (acquire, write=true when it is a writer), of the
 * first writer joining readers (acquire write), of the last writer leaving readers behind (release
 * write, then acquire read again so the file stays open for the server), and of the last close
 * (release). A 409 EBUSY from the server becomes FsError('EBUSY').
 *
 * While anything is held, a timer touches the server every TTL/3 (the server also counts every
 * request and the event stream), so leases of an idle but open file do not expire.
 */
export class RemoteOpenLeases implements OpenLeases {
  private readonly held = new Map<number, Held>();
  private readonly locks = new KeyedMutex<number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly http: HttpClient, private readonly keepAliveMs = SERVER_LEASE_TTL_MS / 3) {}

  /** Inodes with at least one local handle open. */
  openInodes(): number[] {
    return [...this.held.keys()];
  }

  isWriteHeld(ino: number): boolean {
    return this.held.get(ino)?.server === 'write';
  }

  acquire(ino: number, write: boolean): Promise<void> {
    return this.locks.run(ino, async () => {
      const h = this.held.get(ino);
      if (!h) {
        await this.send(ROUTES.leaseAcquire, { ino, write });
        this.held.set(ino, { readers: write ? 0 : 1, writers: write ? 1 : 0, server: write ? 'write' : 'read' });
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
    return this.locks.run(ino, async () => {
      const h = this.held.get(ino);
      if (!h) return;
      if (write) h.writers = Math.max(0, h.writers - 1);
      else h.readers = Math.max(0, h.readers - 1);
      if (h.readers + h.writers === 0) {
        this.held.delete(ino);
        if (this.held.size === 0) this.stopKeepAlive();
        await this.send(ROUTES.leaseRelease, { ino, write: h.server === 'write' }).catch((err) => {
          // The lease expires on the server by itself; a failed release must not fail close().
          log.warn({ err: (err as Error).message, ino }, 'lease release failed; it will expire on the server');
        });
        return;
      }
      if (h.writers === 0 && h.server === 'write') {
        h.server = 'read';
        try {
          await this.send(ROUTES.leaseRelease, { ino, write: true });
          await this.send(ROUTES.leaseAcquire, { ino, write: false });
        } catch (err) {
          log.warn({ err: (err as Error).message, ino }, 'write lease downgrade failed');
        }
      }
    });
  }

  /** Forget local state (after the session closed); the server drops the client's leases at logout or expiry. */
  async releaseAll(): Promise<void> {
    this.stopKeepAlive();
    const inos = [...this.held.entries()];
    this.held.clear();
    await Promise.allSettled(inos.map(([ino, h]) => this.send(ROUTES.leaseRelease, { ino, write: h.server === 'write' })));
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
