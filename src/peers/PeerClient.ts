import { Agent, request, type Dispatcher } from 'undici';
import { EMPTY_BODY_SHA256, sha256Hex, signRequest, type ClusterKey } from './auth.js';
import {
  API_PREFIX, AUTH_HEADER, BODY_HASH_HEADER, FROM_HEADER, blockPath, nsPath, LIST_PAGE_MAX,
  type CatalogPage, type ListPage, type ListedBlock, type NodeStatus, type PeerInfo, type TombstonePage,
} from './protocol.js';

/** A request to a node failed: unreachable, refused, timed out, or an unexpected status. */
export class PeerRequestError extends Error {
  constructor(readonly address: string, readonly status: number | null, message: string) {
    super(`peer ${address}: ${message}`);
    this.name = 'PeerRequestError';
  }
  /** True when the node answered 507: it is full, placement moves on. */
  get full(): boolean {
    return this.status === 507;
  }
  /** True when the node could not be reached (or did not answer in time). */
  get unreachable(): boolean {
    return this.status === null;
  }
}

export interface PeerClientOptions {
  /** Per-request timeout (ms) for headers and body. */
  timeoutMs?: number;
}

/** Shared keep-alive connection pool for all clients of one process part. */
export function peerAgent(timeoutMs = 10_000): Agent {
  return new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 10_000, connect: { timeout: Math.min(timeoutMs, 3000) }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

/** Authenticated HTTP calls to one `mosaicfs node`. */
export class PeerClient {
  private readonly origin: string;

  /** `from`: our own node address, sent so the callee learns of us (nodes only). */
  constructor(readonly address: string, private readonly key: ClusterKey, private readonly dispatcher: Dispatcher, private readonly from?: string) {
    this.origin = `http://${address}`;
  }

  private async call(method: Dispatcher.HttpMethod, path: string, opts: { body?: Uint8Array; headers?: Record<string, string>; ok?: number[] } = {}): Promise<Dispatcher.ResponseData> {
    const bodyHash = opts.body ? sha256Hex(opts.body) : EMPTY_BODY_SHA256;
    const headers: Record<string, string> = { ...opts.headers, [AUTH_HEADER]: signRequest(this.key, method, path, bodyHash) };
    if (opts.body) headers[BODY_HASH_HEADER] = bodyHash;
    if (this.from) headers[FROM_HEADER] = this.from;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.origin + path, { method, headers, body: opts.body, dispatcher: this.dispatcher });
    } catch (err) {
      throw new PeerRequestError(this.address, null, (err as Error).message || String(err));
    }
    if (!(opts.ok ?? [200, 204]).includes(res.statusCode)) {
      const text = await res.body.text().catch(() => '');
      throw new PeerRequestError(this.address, res.statusCode, `${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`);
    }
    return res;
  }

  private async json<T>(path: string): Promise<T> {
    return (await (await this.call('GET', path)).body.json()) as T;
  }

  async put(ns: string, id: string, data: Uint8Array): Promise<void> {
    await (await this.call('PUT', blockPath(ns, id), { body: data })).body.dump();
  }

  /** The whole block, or null if the node does not have it. */
  async get(ns: string, id: string): Promise<Buffer | null> {
    const res = await this.call('GET', blockPath(ns, id), { ok: [200, 404] });
    if (res.statusCode === 404) return res.body.dump().then(() => null);
    return Buffer.from(await res.body.arrayBuffer());
  }

  /** Bytes [offset, offset+length), clipped to the block's end; null if absent. */
  async getRange(ns: string, id: string, offset: number, length: number): Promise<Buffer | null> {
    if (length === 0) return (await this.head(ns, id)) ? Buffer.alloc(0) : null;
    const res = await this.call('GET', blockPath(ns, id), { headers: { range: `bytes=${offset}-${offset + length - 1}` }, ok: [206, 200, 404] });
    if (res.statusCode === 404) return res.body.dump().then(() => null);
    return Buffer.from(await res.body.arrayBuffer());
  }

  async head(ns: string, id: string): Promise<ListedBlock | null> {
    const res = await this.call('HEAD', blockPath(ns, id), { ok: [200, 404] });
    await res.body.dump();
    if (res.statusCode === 404) return null;
    return { id, size: Number(res.headers['content-length']), mtimeMs: Number(res.headers['x-mosaicfs-mtime']) };
  }

  /** Delete with a tombstone (a user delete), or `drop` a surplus copy without one. */
  async delete(ns: string, id: string, drop = false): Promise<void> {
    await (await this.call('DELETE', blockPath(ns, id) + (drop ? '?tombstone=0' : ''))).body.dump();
  }

  async *list(ns: string): AsyncIterable<ListedBlock> {
    let after = '';
    for (;;) {
      const page = await this.json<ListPage>(`${nsPath(ns, 'blocks')}?after=${after}&limit=${LIST_PAGE_MAX}`);
      yield* page.blocks;
      if (!page.next) return;
      after = page.next;
    }
  }

  tombstones(ns: string, since = 0): Promise<TombstonePage> {
    return this.json<TombstonePage>(`${nsPath(ns, 'tombstones')}?since=${since}`);
  }

  async sync(ns: string): Promise<void> {
    await (await this.call('POST', nsPath(ns, 'sync'))).body.dump();
  }

  status(): Promise<NodeStatus> {
    return this.json<NodeStatus>(`${API_PREFIX}/status`);
  }

  async peers(): Promise<PeerInfo[]> {
    return (await this.json<{ peers: PeerInfo[] }>(`${API_PREFIX}/peers`)).peers;
  }

  async namespaces(): Promise<string[]> {
    return (await this.json<{ namespaces: string[] }>(`${API_PREFIX}/namespaces`)).namespaces;
  }

  catalog(ns: string): Promise<CatalogPage> {
    return this.json<CatalogPage>(`${API_PREFIX}/catalog?ns=${ns}`);
  }
}
