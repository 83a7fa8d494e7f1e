import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BLOCK_ID_RE } from '../../block/BlockStore.js';
import { BlockNotFoundError, isFsError } from '../../errors.js';
import { MAX_BLOCK_BODY, ROUTES, type BlockListPage } from '../../remote/protocol.js';
import { authenticate, inSpace, type ServerContext } from '../context.js';
import { badRequest, HttpError } from '../httpErrors.js';

const MAX_LIST_LIMIT = 10_000;

function blockIdOf(req: FastifyRequest): string {
  const id = (req.params as { id?: string }).id;
  if (typeof id !== 'string' || !BLOCK_ID_RE.test(id)) throw badRequest('block id must be 64 lowercase hex digits');
  return id;
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'ENOENT', `block ${id} not found`);
}

/** bytes=a-b | bytes=a- (one range; suffix ranges need the size, which a BlockStore does not give cheaply). Lengths are capped at MAX_BLOCK_BODY. */
export function parseRange(header: string): { offset: number; length: number } | null {
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  // Open-ended: no block is larger than MAX_BLOCK_BODY, and getRange clips to the end.
  if (m[2] === '') return { offset: start, length: MAX_BLOCK_BODY };
  const end = Number(m[2]);
  if (end < start) return null;
  return { offset: start, length: Math.min(end - start + 1, MAX_BLOCK_BODY) };
}

export function registerBlockRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const route = `${ROUTES.block}:id`;

  app.put(route, { bodyLimit: MAX_BLOCK_BODY }, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const id = blockIdOf(req);
    // The raw parser hands over the body only once it arrived whole with the announced length.
    if (!Buffer.isBuffer(req.body)) throw new HttpError(415, 'EBADREQ', 'a block body must be application/octet-stream');
    const body = req.body;
    await inSpace(ctx, s, ({ blocks }) => blocks.put(id, body));
    return reply.code(204).send();
  });

  app.get(route, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const id = blockIdOf(req);
    const rangeHeader = req.headers.range;
    try {
      if (rangeHeader === undefined) {
        const data = await inSpace(ctx, s, ({ blocks }) => blocks.get(id));
        return reply.type('application/octet-stream').send(data);
      }
      const range = parseRange(rangeHeader);
      if (!range) return rangeNotSatisfiable(reply, 'malformed or unsupported Range (use bytes=a-b or bytes=a-)');
      const data = await inSpace(ctx, s, ({ blocks }) => blocks.getRange(id, range.offset, range.length));
      if (data.length === 0 && range.length > 0) return rangeNotSatisfiable(reply, 'the range starts at or past the end of the block');
      const last = range.offset + data.length - 1;
      return reply
        .code(206)
        .type('application/octet-stream')
        .header('content-range', `bytes ${range.offset}-${last}/*`)
        .send(data);
    } catch (err) {
      if (err instanceof BlockNotFoundError || isFsError(err, 'ENOENT')) throw notFound(id);
      throw err;
    }
  });

  app.head(route, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const id = blockIdOf(req);
    const present = await inSpace(ctx, s, ({ blocks }) => blocks.has(id));
    return reply.code(present ? 200 : 404).send();
  });

  app.delete(route, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const id = blockIdOf(req);
    await inSpace(ctx, s, async ({ meta, blocks, gcLock }) => {
      await gcLock.exclusive(async () => {
        // A block the user's files still reference is not theirs to lose by a stray DELETE.
        const rec = await meta.getBlock(id);
        if (rec && rec.refs > 0) throw new HttpError(409, 'EBUSY', `block ${id} is referenced by ${rec.refs} slice(s)`);
        await blocks.delete(id);
      });
    });
    return reply.code(204).send();
  });

  app.get(ROUTES.blockList, async (req): Promise<BlockListPage> => {
    const s = await authenticate(ctx, req);
    const q = req.query as { cursor?: unknown; limit?: unknown };
    const cursor = q.cursor === undefined || q.cursor === '' ? null : String(q.cursor);
    if (cursor !== null && !BLOCK_ID_RE.test(cursor)) throw badRequest('cursor must be a block id');
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw badRequest(`limit must be an integer in [1, ${MAX_LIST_LIMIT}]`);
    const all = await inSpace(ctx, s, async ({ blocks }) => {
      const out: BlockListPage['blocks'] = [];
      for await (const b of blocks.list()) {
        if (cursor === null || b.id > cursor) out.push(b.mtimeMs === undefined ? { id: b.id, size: b.size } : { id: b.id, size: b.size, mtimeMs: b.mtimeMs });
      }
      return out;
    });
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = all.slice(0, limit);
    return { blocks: page, next: all.length > limit ? page[page.length - 1]!.id : null };
  });

  app.post(ROUTES.blockSync, async (req, reply) => {
    const s = await authenticate(ctx, req);
    await inSpace(ctx, s, ({ meta, blocks }) => Promise.all([blocks.sync(), meta.sync()]));
    return reply.code(204).send();
  });
}

function rangeNotSatisfiable(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(416)
    .header('content-range', 'bytes */*')
    .type('application/json')
    .send({ error: { code: 'EBADREQ', message } });
}
