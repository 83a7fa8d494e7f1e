import { DiscordAPIError, REST } from '@discordjs/rest';
import { FsError } from '../../errors.js';
import { log } from '../../util/log.js';
import { DiscordAccessError } from './errors.js';
import { discordRestAgent } from './restAgent.js';

export const DEFAULT_DISCORD_API = 'https://discord.com/api/v10';

export interface DiscordApiOptions {
  /** Client-side global limit per token (Discord: 50 requests/s). */
  globalRequestsPerSecond?: number;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export interface UploadedAttachment {
  messageId: string;
  attachmentId: string;
  size: number;
  url: string;
}

interface ApiAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
}

interface ApiMessage {
  id: string;
  channel_id: string;
  attachments: ApiAttachment[];
}

/** Split "https://discord.com/api/v10" into the REST client's `api` and `version` options. */
export function splitApiBase(apiBase: string): { api: string; version: string } {
  const m = /^(.*?)\/v(\d+)\/?$/.exec(apiBase);
  return m ? { api: m[1]!, version: m[2]! } : { api: apiBase.replace(/\/$/, ''), version: '10' };
}

/**
 * The Discord REST calls the block store makes, over one @discordjs/rest client per bot token.
 * @discordjs/rest queues requests per rate-limit bucket and channel, waits out 429s (retry_after /
 * Retry-After), honours X-RateLimit-Remaining/Reset-After before sending, keeps a client-side
 * global limit, and retries 5xx and timeouts. It does not stop on 401/403: after a 401 it drops the
 * token (later requests throw "Expected token to be set"), and a 403 is just an error. So this
 * class stops everything on the first 401 or 403: queued requests are aborted and every later call
 * throws the same DiscordAccessError without touching the network.
 */
export class DiscordApi {
  private readonly clients: { rest: REST; inflight: number }[];
  private next = 0;
  /** One controller per request in flight, so a stop can abort what is queued (a shared signal would pile up listeners). */
  private readonly pending = new Set<AbortController>();
  private stopped: DiscordAccessError | undefined;
  private readonly agent = discordRestAgent();

  constructor(
    tokens: string[],
    apiBase: string,
    private readonly tokenSource: string,
    opts: DiscordApiOptions = {},
  ) {
    const { api, version } = splitApiBase(apiBase);
    this.clients = tokens.map((token) => ({
      rest: new REST({
        api,
        version,
        globalRequestsPerSecond: opts.globalRequestsPerSecond ?? 50,
        timeout: opts.timeoutMs ?? 60_000,
        agent: this.agent,
      }).setToken(token),
      inflight: 0,
    }));
  }

  get tokenCount(): number {
    return this.clients.length;
  }

  /** Throws the stop error once the backend has been stopped by a 401/403. */
  assertUsable(): void {
    if (this.stopped) throw this.stopped;
  }

  /** Check every token (GET /users/@me) and that every token sees every channel (GET /channels/:id). */
  async verifyAccess(channels: string[]): Promise<void> {
    for (let i = 0; i < this.clients.length; i++) {
      await this.call(`checking token ${i + 1}`, (rest) => rest.get('/users/@me'), i);
      for (const c of channels) await this.call(`checking channel ${c}`, (rest) => rest.get(`/channels/${c}`), i);
    }
  }

  async createMessage(channelId: string, filename: string, data: Buffer): Promise<UploadedAttachment> {
    const msg = (await this.call(`uploading to channel ${channelId}`, (rest, signal) =>
      rest.post(`/channels/${channelId}/messages`, {
        body: { content: '', attachments: [{ id: 0, filename }] },
        files: [{ name: filename, data, contentType: 'application/octet-stream' }],
        signal,
      }),
    )) as ApiMessage;
    const a = msg.attachments?.[0];
    if (!a || a.size !== data.length) {
      throw new FsError('EIO', `Discord stored attachment ${a?.id ?? '(none)'} of ${a?.size ?? 0} bytes for a block of ${data.length}`);
    }
    return { messageId: msg.id, attachmentId: a.id, size: a.size, url: a.url };
  }

  /** The attachment with freshly signed URL, or null when the message or attachment is gone. */
  async fetchAttachment(channelId: string, messageId: string, attachmentId: string): Promise<ApiAttachment | null> {
    try {
      const msg = (await this.call(`fetching message ${messageId}`, (rest, signal) =>
        rest.get(`/channels/${channelId}/messages/${messageId}`, { signal }),
      )) as ApiMessage;
      return msg.attachments.find((a) => a.id === attachmentId) ?? null;
    } catch (err) {
      if (err instanceof DiscordAPIError && err.status === 404) return null;
      throw err;
    }
  }

  /** Delete a message; one that is already gone is fine. */
  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    try {
      await this.call(`deleting message ${messageId}`, (rest, signal) => rest.delete(`/channels/${channelId}/messages/${messageId}`, { signal }));
    } catch (err) {
      if (err instanceof DiscordAPIError && err.status === 404) return;
      throw err;
    }
  }

  close(): void {
    this.abortAll();
    for (const c of this.clients) {
      c.rest.clearHashSweeper();
      c.rest.clearHandlerSweeper();
    }
    this.agent.close().catch(() => undefined);
  }

  /** Run one request on the least busy token (or the given one); 401/403 stop the backend. */
  private async call<T>(what: string, fn: (rest: REST, signal: AbortSignal) => Promise<T>, clientIndex?: number): Promise<T> {
    this.assertUsable();
    const client = clientIndex !== undefined ? this.clients[clientIndex]! : this.pick();
    const controller = new AbortController();
    this.pending.add(controller);
    client.inflight++;
    try {
      return await fn(client.rest, controller.signal);
    } catch (err) {
      throw this.classify(err, what, this.clients.indexOf(client));
    } finally {
      client.inflight--;
      this.pending.delete(controller);
    }
  }

  private pick(): { rest: REST; inflight: number } {
    let best = this.clients[this.next % this.clients.length]!;
    this.next++;
    for (const c of this.clients) if (c.inflight < best.inflight) best = c;
    return best;
  }

  private classify(err: unknown, what: string, tokenIndex: number): unknown {
    if (this.stopped) return this.stopped;
    const status = err instanceof DiscordAPIError ? err.status : undefined;
    const tokenDropped = err instanceof Error && /Expected token to be set/.test(err.message);
    if (status === 401 || tokenDropped) {
      return this.stop(new DiscordAccessError(401, `Discord token rejected (401) while ${what}: check ${this.tokenSource} (token ${tokenIndex + 1})`));
    }
    if (status === 403) {
      const detail = (err as DiscordAPIError).message;
      return this.stop(
        new DiscordAccessError(403, `Discord refused access (403 ${detail}) while ${what}: check the bot's channel permissions (View Channel, Send Messages, Attach Files, Read Message History) and the channel ids`),
      );
    }
    if (status === 413) return new FsError('EFBIG', `Discord refused the upload as too large (413) while ${what}`);
    if (err instanceof DiscordAPIError && status === 404) return err; // callers decide what 404 means
    return err instanceof FsError ? err : new FsError('EIO', `Discord request failed while ${what}: ${(err as Error)?.message ?? String(err)}`);
  }

  private abortAll(): void {
    for (const c of this.pending) c.abort();
    this.pending.clear();
  }

  private stop(err: DiscordAccessError): DiscordAccessError {
    if (!this.stopped) {
      this.stopped = err;
      log.error({ status: err.status }, err.message);
      this.abortAll();
    }
    return this.stopped;
  }
}
