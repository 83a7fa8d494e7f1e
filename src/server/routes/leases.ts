import type { FastifyInstance } from 'fastify';
import { ROUTES, type OpenResponse } from '../../remote/protocol.js';
import { encodeWire } from '../../remote/wireCodec.js';
import { authenticate, inSpace, requireClientId, type ServerContext } from '../context.js';
import { HttpError } from '../httpErrors.js';
import { leaseRequest, openRequest } from '../validate.js';

/**
 * Opens and write leases (the two-writers rule). The server keeps one open per (client, inode)
 * and one write lease per inode: a client acquires when its first handle on the inode opens and
 * releases when its last closes.
 */
export function registerLeaseRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(ROUTES.leaseAcquire, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const { ino, write } = leaseRequest(req.body, 'body');
    if (write && !(await ctx.coordinator.acquireWrite(s.user.id, ino, clientId))) {
      throw new HttpError(409, 'EBUSY', `inode ${ino} is open for writing on another client`);
    }
    await ctx.coordinator.opened(s.user.id, ino, clientId);
    return reply.code(204).send();
  });

  // An open and the attributes that revalidate it in one round trip. The open is recorded first, so
  // the attributes are those of an inode this client holds: no purge can come in between.
  app.post(ROUTES.open, async (req): Promise<OpenResponse> => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const { ino } = openRequest(req.body, 'body');
    await ctx.coordinator.opened(s.user.id, ino, clientId);
    try {
      const attr = await inSpace(ctx, s, ({ meta }) => meta.getattr(ino));
      return { attr: encodeWire(attr) };
    } catch (err) {
      await ctx.coordinator.closed(s.user.id, ino, clientId);
      throw err;
    }
  });

  app.post(ROUTES.leaseRelease, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const { ino, write } = leaseRequest(req.body, 'body');
    if (write) await ctx.coordinator.releaseWrite(s.user.id, ino, clientId);
    else {
      await ctx.coordinator.releaseWrite(s.user.id, ino, clientId);
      await ctx.coordinator.closed(s.user.id, ino, clientId);
    }
    if (ctx.purges.has(s.user.id, ino)) await ctx.purges.retry(s.user.id);
    return reply.code(204).send();
  });
}
