import type { FastifyInstance } from 'fastify';
import { ROUTES } from '../../remote/protocol.js';
import { authenticate, requireClientId, type ServerContext } from '../context.js';
import { HttpError } from '../httpErrors.js';
import { leaseRequest } from '../validate.js';

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
