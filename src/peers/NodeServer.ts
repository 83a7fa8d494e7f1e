import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BLOCK_ID_RE } from '../block/BlockStore.js';
import { log } from '../util/log.js';
import { EMPTY_BODY_SHA256, RequestVerifier } from './auth.js';
import { NodeFullError, type NodeStorage } from './NodeStorage.js';
import {
  API_PREFIX, AUTH_HEADER, BODY_HASH_HEADER, FROM_HEADER, LIST_PAGE_MAX, MAX_BLOCK_BODY, NAMESPACE_RE,
  type CatalogPage, type NodeStatus, type PeerInfo,
} from './protocol.js';

/** What the HTTP server needs from the rest of the node. */
export interface NodeServerDeps {
  storage: NodeStorage;
  verifier: RequestVerifier;
  status(): NodeStatus;
  peers(): PeerInfo[];
  catalog(ns: string): CatalogPage;
  /** An authenticated node told us its address. */
  learn(address: string): void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const BLOCK_RE = new RegExp(`^${API_PREFIX}/ns/([^/]+)/blocks/([^/]+)$`);
const NS_RE = new RegExp(`^${API_PREFIX}/ns/([^/]+)/(blocks|tombstones|sync)$`);

/** The block server of `mosaicfs node` (node:http: raw bodies, no framework overhead on the data path). */
export class NodeServer {
  private readonly server: http.Server;

  constructor(private readonly deps: NodeServerDeps) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : err instanceof NodeFullError ? 507 : err instanceof TypeError ? 400 : 500;
        if (status === 500) log.error({ err, url: req.url }, 'peer node request failed');
        if (!res.headersSent) {
          res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: status === 413 ? 'close' : 'keep-alive' });
        }
        res.end((err as Error).message);
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://node');
    const body = method === 'PUT' ? await readBody(req) : null;
    if (method !== 'PUT') req.resume();
    const bodyHash = body ? createHash('sha256').update(body).digest('hex') : EMPTY_BODY_SHA256;
    const claimed = req.headers[BODY_HASH_HEADER];
    if (body && claimed !== undefined && claimed !== bodyHash) throw new HttpError(400, 'body does not match its hash');
    const verdict = this.deps.verifier.verify(header(req, AUTH_HEADER), method, req.url ?? '/', bodyHash);
    if (!verdict.ok) throw new HttpError(401, `unauthorized: ${verdict.why}`);
    const from = header(req, FROM_HEADER);
    if (from && /^[^\s/]{1,200}:\d{1,5}$/.test(from)) this.deps.learn(from);

    const { storage } = this.deps;
    const b = BLOCK_RE.exec(url.pathname);
    if (b) {
      const [ns, id] = [checkNs(b[1]), checkId(b[2])];
      switch (method) {
        case 'PUT':
          await storage.put(ns, id, body!);
          return reply(res, 204);
        case 'GET':
        case 'HEAD':
          return this.sendBlock(req, res, ns, id, method === 'HEAD');
        case 'DELETE':
          await storage.delete(ns, id, url.searchParams.get('tombstone') === '0' ? { kind: 'drop' } : { kind: 'user' });
          return reply(res, 204);
      }
      throw new HttpError(405, `${method} not allowed here`);
    }
    const n = NS_RE.exec(url.pathname);
    if (n) {
      const ns = checkNs(n[1]);
      if (n[2] === 'blocks' && method === 'GET') {
        const after = url.searchParams.get('after') ?? '';
        if (after && !BLOCK_ID_RE.test(after)) throw new HttpError(400, 'bad cursor');
        const limit = Math.min(LIST_PAGE_MAX, Math.max(1, Number(url.searchParams.get('limit') ?? LIST_PAGE_MAX) || LIST_PAGE_MAX));
        return json(res, await storage.list(ns, after, limit));
      }
      if (n[2] === 'tombstones' && method === 'GET') {
        return json(res, (await storage.space(ns)).tombstones.since(Number(url.searchParams.get('since') ?? 0) || 0));
      }
      if (n[2] === 'sync' && method === 'POST') {
        await storage.sync(ns);
        return reply(res, 204);
      }
      throw new HttpError(405, `${method} not allowed here`);
    }
    if (method === 'GET') {
      switch (url.pathname) {
        case `${API_PREFIX}/status`: return json(res, this.deps.status());
        case `${API_PREFIX}/peers`: return json(res, { peers: this.deps.peers() });
        case `${API_PREFIX}/namespaces`: return json(res, { namespaces: await storage.namespaces() });
        case `${API_PREFIX}/catalog`: return json(res, this.deps.catalog(checkNs(url.searchParams.get('ns') ?? '')));
      }
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`);
  }

  private async sendBlock(req: http.IncomingMessage, res: http.ServerResponse, ns: string, id: string, headOnly: boolean): Promise<void> {
    const space = await this.deps.storage.space(ns);
    const st = await this.deps.storage.stat(ns, id);
    if (!st) throw new HttpError(404, `block ${id} not found`);
    const headers = { 'x-mosaicfs-mtime': String(st.mtimeMs), 'content-type': 'application/octet-stream' };
    if (headOnly) return reply(res, 200, { ...headers, 'content-length': String(st.size) });
    const range = /^bytes=(\d+)-(\d+)$/.exec(header(req, 'range') ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Number(range[2]);
      if (end < start) throw new HttpError(416, 'bad range');
      // Clipping is the client's rule too: a range past the end is a short (possibly empty) reply.
      const data = start >= st.size ? Buffer.alloc(0) : await space.blocks.getRange(id, start, end - start + 1);
      res.writeHead(206, { ...headers, 'content-length': String(data.length) });
      res.end(data);
      return;
    }
    const data = await space.blocks.get(id);
    res.writeHead(200, { ...headers, 'content-length': String(data.length) });
    res.end(data);
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkNs(ns: string): string {
  if (!NAMESPACE_RE.test(ns)) throw new HttpError(400, `bad namespace ${JSON.stringify(ns)}`);
  return ns;
}

function checkId(id: string): string {
  if (!BLOCK_ID_RE.test(id)) throw new HttpError(400, `bad block id ${JSON.stringify(id)}`);
  return id;
}

function reply(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, headers);
  res.end();
}

function json(res: http.ServerResponse, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_BLOCK_BODY) throw new HttpError(413, `body larger than ${MAX_BLOCK_BODY} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BLOCK_BODY) throw new HttpError(413, `body larger than ${MAX_BLOCK_BODY} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
