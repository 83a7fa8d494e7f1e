import { StringDecoder } from 'node:string_decoder';
import { log } from '../util/log.js';
import type { HttpClient } from './HttpClient.js';
import { ROUTES, type ChangeEvent } from './protocol.js';
import { SessionExpiredError } from './remoteErrors.js';

export interface EventStreamListener {
  /** Another client changed something. */
  change?(event: ChangeEvent): void;
  /** (Re)connected after a gap: events may have been missed, so everything cached must go. */
  reset?(): void;
}

/** Keep-alive comments come every 15 s; a stream silent for this long is dead and is reopened. */
const IDLE_TIMEOUT_MS = 45_000;
const MAX_BACKOFF_MS = 5_000;

/**
 * Client of GET /v1/events (server-sent events): delivers ChangeEvents to listeners, reconnects with
 * exponential backoff when the stream breaks (server restart, network), and tells listeners to drop
 * all caches after every reconnect. The open stream also keeps this client's leases alive on the
 * server. A 401 re-reads the saved session (through a plain request, which does that) before retrying.
 */
export class EventStream {
  private readonly listeners = new Set<EventStreamListener>();
  private running = false;
  private closeCurrent: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private connectedOnce = false;
  /** True while a stream is open. */
  connected = false;
  /** Events received since start, reconnects made. */
  received = 0;
  reconnects = 0;
  private readyWaiters: Array<() => void> = [];

  constructor(private readonly http: HttpClient) {}

  on(listener: EventStreamListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once the stream is connected (or after `timeoutMs`, whatever comes first). */
  whenConnected(timeoutMs = 5000): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async close(): Promise<void> {
    this.running = false;
    this.closeCurrent?.();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      try {
        await this.connectOnce(() => {
          attempt = 0;
        });
      } catch (err) {
        if (!this.running) break;
        if (err instanceof SessionExpiredError || (err as { status?: number }).status === 401) {
          // A plain request re-reads the saved session on 401 (HttpClient.refreshToken).
          await this.http.request({ method: 'GET', path: ROUTES.whoami, retryForMs: 0 }).catch(() => {});
        }
        log.debug({ err: (err as Error).message }, 'event stream broke');
      }
      this.connected = false;
      if (!this.running) break;
      const ms = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt++) * (0.75 + Math.random() * 0.5);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, ms).unref();
      });
      this.wake = null;
    }
  }

  private async connectOnce(onOpen: () => void): Promise<void> {
    const stream = await this.http.openStream(ROUTES.events, IDLE_TIMEOUT_MS);
    this.closeCurrent = stream.close;
    try {
      if (!this.running) return;
      if (stream.status !== 200) {
        const err = Object.assign(new Error(`event stream answered ${stream.status}`), { status: stream.status });
        throw err;
      }
      this.connected = true;
      onOpen();
      if (this.connectedOnce) this.reconnects++;
      this.connectedOnce = true;
      // Anything cached before this point may have changed while no stream was open.
      for (const l of this.listeners) l.reset?.();
      for (const w of this.readyWaiters.splice(0)) w();
      const decoder = new StringDecoder('utf8');
      let buf = '';
      for await (const chunk of stream.body) {
        buf += decoder.write(chunk as Buffer).replace(/\r\n?/g, '\n');
        let sep: number;
        while ((sep = buf.indexOf('\n\n')) !== -1) {
          const raw = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          this.dispatch(raw);
        }
      }
    } finally {
      stream.close();
      this.closeCurrent = null;
      this.connected = false;
    }
  }

  private dispatch(raw: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event !== 'change' || data.length === 0) return;
    let parsed: ChangeEvent;
    try {
      parsed = JSON.parse(data.join('\n')) as ChangeEvent;
    } catch {
      log.warn('malformed change event ignored');
      return;
    }
    this.received++;
    const ev: ChangeEvent = {
      origin: String(parsed.origin ?? ''),
      inos: Array.isArray(parsed.inos) ? parsed.inos : [],
      entries: Array.isArray(parsed.entries) ? parsed.entries : [],
      data: Array.isArray(parsed.data) ? parsed.data : [],
    };
    for (const l of this.listeners) {
      try {
        l.change?.(ev);
      } catch (err) {
        log.warn({ err }, 'change event listener failed');
      }
    }
  }
}
