import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../block/BlockStore.js';
import { Semaphore } from '../data/Semaphore.js';
import { BlockNotFoundError } from '../errors.js';
import { log } from '../util/log.js';
import type { HttpClient, HttpRequest, HttpResponse } from './HttpClient.js';
import { ROUTES, type BlockListPage } from './protocol.js';
import { STASH_MAX_BLOCK, type SmallBlockStash } from './SmallBlockStash.js';

const LIST_PAGE = 1000;
/** A stashed block no commit carried within this long is PUT by itself. */
const STASH_FLUSH_MS = 250;

/**
 * BlockStore over /v1/blocks of a mosaicfs server: PUT raw sealed bytes (idempotent: content
 * addressed, so retried freely across server restarts), GET, Range GET, HEAD, DELETE, paged list,
 * sync. At most `concurrency` requests in flight (default 8).
 *
 * With a `stash`, a small block's put only keeps it (SmallBlockStash): the commit that references
 * it carries it (RemoteMetaStore), or a timer, sync() or close() PUTs it. Reads of a stashed block
 * are answered from the stash.
 */
export class RemoteBlockStore implements BlockStore {
  readonly name: string;
  private readonly slots: Semaphore;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly http: HttpClient, concurrency = 8, private readonly stash?: SmallBlockStash) {
    this.name = `remote:${http.url}`;
    this.slots = new Semaphore(concurrency);
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    assertBlockId(id);
    // A stashed block outlives this call, so it is a copy (the caller may reuse its buffer once put
    // returns); a PUT sends the caller's bytes as they are: put returns only after the last attempt.
    if (this.stash && data.length <= STASH_MAX_BLOCK && this.stash.add(id, Buffer.from(data))) {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = null;
        this.flushStashed().catch((err) => log.warn({ err: (err as Error).message }, 'upload of small blocks failed; their commit will carry them'));
      }, STASH_FLUSH_MS);
      this.flushTimer.unref(); // close() stores what is left
      return;
    }
    await this.send({ method: 'PUT', path: ROUTES.block + id, body: data });
  }

  /** PUT stashed blocks (those of `ids`, default all) now; they leave the stash once stored. */
  async flushStashed(ids?: Iterable<string>): Promise<void> {
    if (!this.stash || this.stash.size === 0) return;
    const bodies = this.stash.pick(ids ?? this.stash.ids());
    await Promise.all(bodies.map(async ({ id, data }) => {
      await this.send({ method: 'PUT', path: ROUTES.block + id, body: data });
      this.stash!.stored([id]);
    }));
  }

  async get(id: string): Promise<Buffer> {
    assertBlockId(id);
    const stashed = this.stash?.get(id);
    if (stashed) return Buffer.from(stashed);
    const res = await this.send({ method: 'GET', path: ROUTES.block + id, accept: [404] });
    if (res.status === 404) throw new BlockNotFoundError(id);
    return res.body;
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    assertBlockId(id);
    assertByteRange(offset, length);
    const stashed = this.stash?.get(id);
    if (stashed) return Buffer.from(stashed.subarray(offset, offset + length));
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
    if (this.stash?.get(id)) return true;
    const res = await this.send({ method: 'HEAD', path: ROUTES.block + id, accept: [404] });
    return res.status !== 404;
  }

  async delete(id: string): Promise<void> {
    assertBlockId(id);
    this.stash?.stored([id]);
    await this.send({ method: 'DELETE', path: ROUTES.block + id, accept: [404] });
  }

  async *list(): AsyncIterable<BlockInfo> {
    await this.flushStashed();
    let cursor: string | null = null;
    do {
      const qs: string = `?limit=${LIST_PAGE}` + (cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`);
      const page: BlockListPage = await this.slots.run(() => this.http.json<BlockListPage>('GET', ROUTES.blockList + qs));
      for (const b of page.blocks) yield b;
      cursor = page.next;
    } while (cursor !== null);
  }

  async sync(): Promise<void> {
    await this.flushStashed();
    await this.send({ method: 'POST', path: ROUTES.blockSync });
  }

  /** Stashed blocks are stored; the session owns (and closes) the HTTP client. */
  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flushStashed();
  }

  private send(req: HttpRequest): Promise<HttpResponse> {
    return this.slots.run(() => this.http.request(req));
  }
}
