/**
 * A loopback emulator of the part of Discord's REST API and CDN a storage bot uses, following the
 * documented behaviour (discord-api-docs: reference.mdx "Uploading Files" and "Signed Attachment
 * CDN URLs", resources/message.mdx, topics/rate-limits.mdx, topics/opcodes-and-status-codes.mdx):
 *
 *   GET    /api/v10/users/@me                         the bot's user
 *   GET    /api/v10/channels/:channel                 a channel object
 *   POST   /api/v10/channels/:channel/messages        multipart: payload_json + files[n] -> Message
 *   GET    /api/v10/channels/:channel/messages/:id    Message with freshly signed attachment URLs
 *   DELETE /api/v10/channels/:channel/messages/:id    204
 *   GET    /attachments/:channel/:attachment/:name?ex&is&hm   (the CDN; Range supported)
 *
 * Auth `Authorization: Bot <token>`; unknown token -> 401 {message: '401: Unauthorized', code: 0}.
 * A channel the bot cannot see -> 403 {message: 'Missing Access', code: 50001}; an unknown channel
 * -> 404 10003; an unknown message -> 404 10008. Per-route limits are fixed windows per (token,
 * route, channel) with the X-RateLimit-* headers on every response; a global limit per token
 * (50/s by default); 429 bodies {message, retry_after (float s), global} with a Retry-After header
 * in whole seconds (rounded up, as in the docs' examples) and X-RateLimit-Scope. Files over the
 * attachment limit (10 MiB) -> 413 {message: 'Request entity too large', code: 40005}.
 *
 * Not documented, so chosen here: the per-route limit values (create message 5 per 5 s per
 * channel is the commonly observed one; the rest are guesses), and the CDN's Range support
 * (cdn.discordapp.com answers Range requests with 206 in practice; media players rely on it).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdnSigner } from './cdnSigner.js';
import { bucketHash, RateLimiter, routeHeaders, type RouteLimit } from './rateLimits.js';
import { nextSnowflake } from './snowflake.js';

export type RouteKey = 'getMe' | 'getChannel' | 'createMessage' | 'getMessage' | 'deleteMessage';

export interface EmulatedBot {
  token: string;
  /** Channels this bot can see; absent = every channel. */
  channels?: string[];
}

export interface DiscordEmulatorOptions {
  bots: EmulatedBot[];
  /** Channels that exist. */
  channels: string[];
  /** Requests per second per token (Discord: 50). */
  globalLimit?: number;
  routeLimits?: Partial<Record<RouteKey, RouteLimit>>;
  /** Per file (Discord default: 10 MiB). */
  attachmentSizeLimit?: number;
  /** Per request (Discord: 25 MiB). */
  requestSizeLimit?: number;
  /** Lifetime of signed CDN URLs (Discord: about 24 h). */
  urlTtlMs?: number;
  /** Added before every answer (API and CDN). */
  latencyMs?: number;
  /** Answer this fraction of otherwise valid API requests with a shared-scope 429. */
  storm?: { rate: number; retryAfterSec: number };
}

export const DEFAULT_ROUTE_LIMITS: Record<RouteKey, RouteLimit> = {
  getMe: { limit: 5, windowMs: 1000 },
  getChannel: { limit: 5, windowMs: 1000 },
  createMessage: { limit: 5, windowMs: 5000 },
  getMessage: { limit: 5, windowMs: 1000 },
  deleteMessage: { limit: 5, windowMs: 1000 },
};

interface StoredAttachment {
  id: string;
  channelId: string;
  messageId: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

interface StoredMessage {
  id: string;
  channelId: string;
  authorToken: string;
  content: string;
  timestamp: string;
  attachments: StoredAttachment[];
}

export interface LoggedRequest {
  method: string;
  path: string;
  route: RouteKey | 'cdn' | 'unknown';
  status: number;
  token?: string;
  channel?: string;
  /** For 429s: 'global' | 'user' | 'shared'. */
  scope?: string;
}

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const unauthorized = (): HttpAnswer => new HttpAnswer(401, { message: '401: Unauthorized', code: 0 });
const jsonError = (status: number, message: string, code: number): HttpAnswer => new HttpAnswer(status, { message, code });

export class DiscordEmulator {
  private server!: http.Server;
  private readonly signer = new CdnSigner();
  private readonly limiter = new RateLimiter();
  private readonly messages = new Map<string, Map<string, StoredMessage>>();
  private readonly attachments = new Map<string, StoredAttachment>();
  private readonly botsByToken = new Map<string, { id: string; channels?: Set<string> }>();
  readonly log: LoggedRequest[] = [];
  baseUrl = '';
  opts: Required<Omit<DiscordEmulatorOptions, 'storm' | 'routeLimits'>> & {
    storm?: DiscordEmulatorOptions['storm'];
    routeLimits: Record<RouteKey, RouteLimit>;
  };

  constructor(options: DiscordEmulatorOptions) {
    this.opts = {
      bots: options.bots,
      channels: options.channels,
      globalLimit: options.globalLimit ?? 50,
      routeLimits: { ...DEFAULT_ROUTE_LIMITS, ...options.routeLimits },
      attachmentSizeLimit: options.attachmentSizeLimit ?? 10 * 1024 * 1024,
      requestSizeLimit: options.requestSizeLimit ?? 25 * 1024 * 1024,
      urlTtlMs: options.urlTtlMs ?? 24 * 3600 * 1000,
      latencyMs: options.latencyMs ?? 0,
      storm: options.storm,
    };
    for (const c of options.channels) this.messages.set(c, new Map());
    for (const b of options.bots) {
      this.botsByToken.set(b.token, { id: nextSnowflake(), channels: b.channels ? new Set(b.channels) : undefined });
    }
  }

  /** The `api` base a client appends routes to, version included. */
  get apiBase(): string {
    return `${this.baseUrl}/api/v10`;
  }

  /** Change limits, storms, latency or URL lifetime while running. */
  set(change: Partial<Omit<DiscordEmulatorOptions, 'bots' | 'channels'>>): void {
    const { routeLimits, ...rest } = change;
    Object.assign(this.opts, rest);
    if ('storm' in change) this.opts.storm = change.storm;
    if (routeLimits) {
      this.opts.routeLimits = { ...this.opts.routeLimits, ...routeLimits };
      this.limiter.reset();
    }
  }

  /** Invalidate every signed URL handed out so far (a CDN that no longer honours them). */
  revokeUrls(): void {
    this.signer.rotate();
  }

  /** Forget a bot's token: its later requests get 401 (a token reset in the developer portal). */
  revokeToken(token: string): void {
    this.botsByToken.delete(token);
  }

  /** Delete, behind the client's back, every message carrying an attachment named `filename`. */
  deleteMessagesWithAttachment(filename: string): number {
    let n = 0;
    for (const channel of this.messages.values()) {
      for (const m of [...channel.values()]) {
        if (!m.attachments.some((a) => a.filename === filename)) continue;
        channel.delete(m.id);
        for (const a of m.attachments) this.attachments.delete(a.id);
        n++;
      }
    }
    return n;
  }

  messageCount(channel?: string): number {
    if (channel) return this.messages.get(channel)?.size ?? 0;
    let n = 0;
    for (const m of this.messages.values()) n += m.size;
    return n;
  }

  /** The stored bytes of the attachment named `filename` (a test's view behind the API). */
  attachmentsNamed(filename: string): Buffer[] {
    return [...this.attachments.values()].filter((a) => a.filename === filename).map((a) => a.data);
  }

  requests(filter: (r: LoggedRequest) => boolean = () => true): LoggedRequest[] {
    return this.log.filter(filter);
  }

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = await readBody(req, this.opts.requestSizeLimit);
    if (this.opts.latencyMs > 0) await sleep(this.opts.latencyMs);
    if (url.pathname.startsWith('/attachments/') || url.pathname.startsWith('/media/attachments/')) {
      this.serveCdn(req, res, url);
      return;
    }
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, route: 'unknown', status: 0 };
    const answer = this.api(req, url, body, entry);
    entry.status = answer.status;
    this.log.push(entry);
    send(res, answer);
  }

  private api(req: http.IncomingMessage, url: URL, body: Buffer | null, entry: LoggedRequest): HttpAnswer {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'api' || parts[1] !== 'v10') return jsonError(404, '404: Not Found', 0);
    const route = matchRoute(req.method ?? 'GET', parts.slice(2));
    if (!route) return jsonError(404, '404: Not Found', 0);
    entry.route = route.key;
    entry.channel = route.channel;

    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bot ') ? auth.slice(4) : '';
    const bot = this.botsByToken.get(token);
    if (!bot) return unauthorized();
    entry.token = token;

    const now = Date.now();
    const global = this.limiter.take(`global:${token}`, { limit: this.opts.globalLimit, windowMs: 1000 }, now);
    if (!global.allowed) {
      entry.scope = 'global';
      return rateLimited((global.resetAt - now) / 1000, true, { 'X-RateLimit-Global': 'true', 'X-RateLimit-Scope': 'global' });
    }
    const bucket = bucketHash(route.key);
    const verdict = this.limiter.take(`${token}:${route.key}:${route.channel ?? '-'}`, this.opts.routeLimits[route.key], now);
    const headers = routeHeaders(verdict, bucket, now);
    if (!verdict.allowed) {
      entry.scope = 'user';
      return rateLimited((verdict.resetAt - now) / 1000, false, { ...headers, 'X-RateLimit-Scope': 'user' });
    }
    const storm = this.opts.storm;
    if (storm && Math.random() < storm.rate) {
      entry.scope = 'shared';
      return rateLimited(storm.retryAfterSec, false, { ...headers, 'X-RateLimit-Scope': 'shared' }, 'The resource is being rate limited.');
    }

    const answer = this.dispatch(route, bot, token, req, body);
    return new HttpAnswer(answer.status, answer.body, { ...headers, ...answer.headers });
  }

  private dispatch(route: MatchedRoute, bot: { id: string; channels?: Set<string> }, token: string, req: http.IncomingMessage, body: Buffer | null): HttpAnswer {
    if (route.key === 'getMe') {
      return new HttpAnswer(200, { id: bot.id, username: `bot-${bot.id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null, bot: true, flags: 0 });
    }
    const channelId = route.channel!;
    const channel = this.messages.get(channelId);
    if (!channel) return jsonError(404, 'Unknown Channel', 10003);
    if (bot.channels && !bot.channels.has(channelId)) return jsonError(403, 'Missing Access', 50001);
    switch (route.key) {
      case 'getChannel':
        return new HttpAnswer(200, { id: channelId, type: 0, name: `blocks-${channelId.slice(-4)}`, guild_id: '1', position: 0, nsfw: false });
      case 'createMessage':
        return this.createMessage(channelId, channel, token, req, body);
      case 'getMessage': {
        const m = channel.get(route.message!);
        return m ? new HttpAnswer(200, this.render(m)) : jsonError(404, 'Unknown Message', 10008);
      }
      case 'deleteMessage': {
        const m = channel.get(route.message!);
        if (!m) return jsonError(404, 'Unknown Message', 10008);
        channel.delete(m.id);
        for (const a of m.attachments) this.attachments.delete(a.id);
        return new HttpAnswer(204, null);
      }
    }
  }

  private createMessage(channelId: string, channel: Map<string, StoredMessage>, token: string, req: http.IncomingMessage, body: Buffer | null): HttpAnswer {
    if (body === null) return jsonError(413, 'Request entity too large', 40005);
    const parsed = parseMultipart(req.headers['content-type'] ?? '', body);
    if (!parsed) return jsonError(400, 'Invalid Form Body', 50035);
    let payload: { content?: string; attachments?: { id: number | string; filename?: string }[] } = {};
    if (parsed.payloadJson !== undefined) {
      try {
        payload = JSON.parse(parsed.payloadJson) as typeof payload;
      } catch {
        return jsonError(400, 'Invalid Form Body', 50109);
      }
    }
    const messageId = nextSnowflake();
    const stored: StoredAttachment[] = [];
    for (const file of parsed.files) {
      if (file.data.length > this.opts.attachmentSizeLimit) return jsonError(413, 'Request entity too large', 40005);
      const meta = payload.attachments?.find((a) => String(a.id) === String(file.index));
      stored.push({
        id: nextSnowflake(),
        channelId,
        messageId,
        filename: meta?.filename ?? file.filename,
        contentType: file.contentType,
        data: file.data,
      });
    }
    if (!payload.content && stored.length === 0) return jsonError(400, 'Cannot send an empty message', 50006);
    const message: StoredMessage = { id: messageId, channelId, authorToken: token, content: payload.content ?? '', timestamp: new Date().toISOString(), attachments: stored };
    channel.set(messageId, message);
    for (const a of stored) this.attachments.set(a.id, a);
    return new HttpAnswer(200, this.render(message));
  }

  /** A Message object with freshly signed attachment URLs. */
  private render(m: StoredMessage): unknown {
    const bot = this.botsByToken.get(m.authorToken);
    return {
      id: m.id,
      type: 0,
      channel_id: m.channelId,
      content: m.content,
      author: { id: bot?.id ?? '0', username: 'storage-bot', discriminator: '0', bot: true },
      attachments: m.attachments.map((a) => {
        const signed = this.signer.sign(`/attachments/${a.channelId}/${a.id}/${encodeURIComponent(a.filename)}`, this.opts.urlTtlMs);
        return { id: a.id, filename: a.filename, size: a.data.length, url: `${this.baseUrl}${signed}`, proxy_url: `${this.baseUrl}/media${signed}`, content_type: a.contentType };
      }),
      embeds: [],
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: false,
      timestamp: m.timestamp,
      edited_timestamp: null,
      flags: 0,
      components: [],
    };
  }

  private serveCdn(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const pathname = url.pathname.replace(/^\/media/, '');
    const [, , channelId, attachmentId] = pathname.split('/');
    const a = this.attachments.get(attachmentId ?? '');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: pathname, route: 'cdn', status: 404, channel: channelId };
    this.log.push(entry);
    if (!this.signer.verify(pathname, url.searchParams) || !a || a.channelId !== channelId) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('This content is no longer available.');
      return;
    }
    const size = a.data.length;
    const headers: Record<string, string> = { 'Content-Type': a.contentType, 'Accept-Ranges': 'bytes' };
    const range = req.headers.range;
    let start = 0;
    let end = size; // exclusive
    let status = 200;
    if (range) {
      const r = parseRange(range, size);
      if (r === 'unsatisfiable') {
        entry.status = 416;
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      if (r) {
        [start, end] = r;
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
      }
    }
    entry.status = status;
    headers['Content-Length'] = String(end - start);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : a.data.subarray(start, end));
  }
}

interface MatchedRoute {
  key: RouteKey;
  channel?: string;
  message?: string;
}

function matchRoute(method: string, p: string[]): MatchedRoute | null {
  const snowflake = (s: string | undefined): boolean => s !== undefined && /^\d{1,20}$/.test(s);
  if (method === 'GET' && p.length === 2 && p[0] === 'users' && p[1] === '@me') return { key: 'getMe' };
  if (p[0] !== 'channels' || !snowflake(p[1])) return null;
  if (p.length === 2 && method === 'GET') return { key: 'getChannel', channel: p[1] };
  if (p.length === 3 && p[2] === 'messages' && method === 'POST') return { key: 'createMessage', channel: p[1] };
  if (p.length === 4 && p[2] === 'messages' && snowflake(p[3])) {
    if (method === 'GET') return { key: 'getMessage', channel: p[1], message: p[3] };
    if (method === 'DELETE') return { key: 'deleteMessage', channel: p[1], message: p[3] };
  }
  return null;
}

function rateLimited(retryAfterSec: number, global: boolean, headers: Record<string, string>, message = 'You are being rate limited.'): HttpAnswer {
  const retry = Math.max(0, Math.round(retryAfterSec * 1000) / 1000);
  return new HttpAnswer(429, { message, retry_after: retry, global }, { ...headers, 'Retry-After': String(Math.ceil(retry)) });
}

function send(res: http.ServerResponse, a: HttpAnswer): void {
  if (a.status === 204 || a.body === null) {
    res.writeHead(a.status, a.headers);
    res.end();
    return;
  }
  const text = JSON.stringify(a.body);
  res.writeHead(a.status, { ...a.headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** The whole body, or null when it exceeds `limit` (read to the end so the answer still arrives). */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total <= limit) chunks.push(chunk);
  }
  return total > limit ? null : Buffer.concat(chunks);
}

interface ParsedForm {
  payloadJson?: string;
  files: { index: number; filename: string; contentType: string; data: Buffer }[];
}

/** multipart/form-data with `payload_json` and `files[n]` parts (RFC 7578), parsed by hand. */
function parseMultipart(contentType: string, body: Buffer): ParsedForm | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!contentType.toLowerCase().startsWith('multipart/form-data') || !m) return null;
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const out: ParsedForm = { files: [] };
  let pos = body.indexOf(delimiter);
  if (pos < 0) return null;
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing delimiter
    pos += 2; // CRLF
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) return null;
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) return null;
    const data = body.subarray(headerEnd + 4, next);
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
    if (name === 'payload_json') out.payloadJson = data.toString('utf8');
    else if (name !== undefined && filename !== undefined) {
      const idx = /^files\[(\d+)\]$/.exec(name);
      if (!idx) return null;
      out.files.push({ index: Number(idx[1]), filename, contentType: type, data: Buffer.from(data) });
    }
    pos = next + 2;
  }
  return out;
}

/** [start, end) of a single `bytes=` range, null to ignore the header, or unsatisfiable. */
function parseRange(header: string, size: number): [number, number] | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size];
  }
  const start = Number(m[1]);
  if (start >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
  if (last < start) return null;
  return [start, last + 1];
}

export async function startDiscordEmulator(options: DiscordEmulatorOptions): Promise<DiscordEmulator> {
  const emu = new DiscordEmulator(options);
  await emu.listen();
  return emu;
}
