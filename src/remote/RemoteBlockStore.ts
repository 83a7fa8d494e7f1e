import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../block/BlockStore.js';
import { Semaphore } from '../data/Semaphore.js';
import { BlockNotFoundError } from '../errors.js';
import type { HttpClient, HttpRequest, HttpResponse } from './HttpClient.js';
import { ROUTES, type BlockListPage } from './protocol.js';

const LIST_PAGE = 1000;

/**
 * BlockStore over /v1/blocks of a mosaicfs server: PUT raw sealed bytes (idempotent: content
 * addressed, so retried freely across server restarts), GET, Range GET, HEAD, DELETE, paged list,
 * sync. At most `concurrency` requests in flight (default 8).
 */
export class RemoteBlockStore implements BlockStore {
  readonly name: string;
  private readonly slots: Semaphore;

  constructor(private readonly http: HttpClient, concurrency = 8) {
    this.name = `remote:${http.url}`;
    this.slots = new Semaphore(concurrency);
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    // A copy: the caller may reuse its buffer while the request is queued.
    const body = Buffer.from(data);
    await this.send({ method: 'PUT', path: ROUTES.block + id, body });
  }

  async get(id: string): Promise<Buffer> {
    assertBlockId(id);
    const res = await this.send({ method: 'GET', path: ROUTES.block + id, accept: [404] });
    if (res.status === 404) throw new BlockNotFoundError(id);
    return res.body;
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertBlockId(id);
    assertByteRange(offset, length);
    if (length === 0) {
      if (!(await this.has(id))) throw new BlockNotFoundError(id);
      return Buffer.alloc(0);
    }
    const res = await this.send({
      method: 'GET', path: ROUTES.block + id, headers: { range: `bytes=${offset}-${offset + length - 1}` }, accept: [404, 416],
    });
    if (res.status === 404) throw new BlockNotFoundError(id);
    if (res.status === 416) return Buffer.alloc(0); // starts at or past the end
    if (res.status === 200) return Buffer.from(res.body.subarray(offset, offset + length)); // server ignored Range
    return res.body;
  }

  async has(id: string): Promise<boolean> {
    assertBlockId(id);
    const res = await this.send({ method: 'HEAD', path: ROUTES.block + id, accept: [404] });
    return res.status !== 404;
  }

  async delete(id: string): Promise<void> {
    assertBlockId(id);
    await this.send({ method: 'DELETE', path: ROUTES.block + id, accept: [404] });
  }

  async *list(): AsyncIterable<BlockInfo> {
    let cursor: string | null = null;
    do {
      const qs: string = `?limit=${LIST_PAGE}` + (cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`);
      const page: BlockListPage = await this.slots.run(() => this.http.json<BlockListPage>('GET', ROUTES.blockList + qs));
      for (const b of page.blocks) yield b;
      cursor = page.next;
    } while (cursor !== null);
  }

  async sync(): Promise<void> {
    await this.send({ method: 'POST', path: ROUTES.blockSync });
  }

  /** Nothing to close here: the session owns the HTTP client. */
  async close(): Promise<void> {}

  private send(req: HttpRequest): Promise<HttpResponse> {
    return this.slots.run(() => this.http.request(req));
  }
}
