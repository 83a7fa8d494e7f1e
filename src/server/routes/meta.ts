import type { FastifyInstance } from 'fastify';
import { isFsError } from '../../errors.js';
import { S_IFMT, S_IFREG, type InodeAttr, type UnlinkResult } from '../../meta/MetaStore.js';
import { LEASE_GRANTED_HEADER, LEASE_ON_CREATE_HEADER, PURGE_UNLINKED_HEADER, PURGED_WITH_UNLINK_HEADER } from '../../remote/protocol.js';
import { ROUTES, type MetaResponse } from '../../remote/protocol.js';
import { decodeWire, encodeWire } from '../../remote/wireCodec.js';
import { authenticate, inSpace, requireClientId, type ServerContext, type Session } from '../context.js';
import { badRequest } from '../httpErrors.js';
import { callMetaOp } from '../metaOps.js';

export function registerMetaRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(ROUTES.meta, async (req, reply): Promise<MetaResponse> => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const body = req.body as { op?: unknown; args?: unknown; attrs?: unknown } | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be {op, args}');
    let args: unknown;
    try {
      args = decodeWire(body.args);
    } catch (err) {
      throw badRequest(`args: ${(err as Error).message}`);
    }
    const userId = s.user.id;
    const { result, change, attrs } = await inSpace(ctx, s, (space) =>
      callMetaOp(
        {
          meta: space.meta,
          blocks: space.blocks,
          gcLock: space.gcLock,
          openElsewhere: (inos) => ctx.coordinator.openElsewhere(userId, inos, clientId),
          deferPurge: (ino) => ctx.purges.add(userId, s.user.blockSize, ino),
        },
        body.op,
        args,
        body.attrs === true,
      ),
    );
    // A created file comes with its write lease when the client asks (it opens the file next): one
    // round trip less. Another client that opened the new name for writing first keeps it: no grant,
    // and this client's own acquire then gets EBUSY as it would have anyway.
    if (body.op === 'create' && req.headers[LEASE_ON_CREATE_HEADER] === '1' && isRegularFile(result)) {
      if (await ctx.coordinator.acquireWrite(userId, result.ino, clientId)) {
        await ctx.coordinator.opened(userId, result.ino, clientId);
        reply.header(LEASE_GRANTED_HEADER, String(result.ino));
      }
    }
    // An unlink that left the inode without a name, from a client that holds nothing open: purged
    // here when no client at all has it open (the answer's attributes still show nlink 0), else
    // the client's own purgeInode follows as usual.
    if (body.op === 'unlink' && req.headers[PURGE_UNLINKED_HEADER] === '1' && isOrphaned(result)) {
      if (await purgeUnopened(ctx, s, result.ino)) reply.header(PURGED_WITH_UNLINK_HEADER, String(result.ino));
    }
    if (change) await ctx.coordinator.publish(userId, { origin: clientId, ...change });
    return attrs ? { result: encodeWire(result), attrs: encodeWire(attrs) as unknown[] } : { result: encodeWire(result) };
  });
}

/** Purge `ino` unless some client (this one included) has it open; true when purged. */
async function purgeUnopened(ctx: ServerContext, s: Session, ino: number): Promise<boolean> {
  // No client id is '': every client's opens count, the requester's too.
  if ((await ctx.coordinator.openElsewhere(s.user.id, [ino], '')).has(ino)) return false;
  try {
    await inSpace(ctx, s, (space) => space.meta.purgeInode(ino));
  } catch (err) {
    if (isFsError(err, 'ENOENT')) return true; // gone already
    throw err;
  }
  return true;
}

function isOrphaned(result: unknown): result is UnlinkResult {
  const r = result as Partial<UnlinkResult> | null;
  return typeof r?.ino === 'number' && r.nlink === 0;
}

function isRegularFile(result: unknown): result is InodeAttr {
  const a = result as Partial<InodeAttr> | null;
  return typeof a?.ino === 'number' && typeof a.mode === 'number' && (a.mode & S_IFMT) === S_IFREG;
}
