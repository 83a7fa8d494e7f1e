import type { FastifyInstance } from 'fastify';
import { ROUTES, type MetaResponse } from '../../remote/protocol.js';
import { decodeWire, encodeWire } from '../../remote/wireCodec.js';
import { authenticate, inSpace, requireClientId, type ServerContext } from '../context.js';
import { badRequest } from '../httpErrors.js';
import { callMetaOp } from '../metaOps.js';

export function registerMetaRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(ROUTES.meta, async (req): Promise<MetaResponse> => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const body = req.body as { op?: unknown; args?: unknown } | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be {op, args}');
    let args: unknown;
    try {
      args = decodeWire(body.args);
    } catch (err) {
      throw badRequest(`args: ${(err as Error).message}`);
    }
    const userId = s.user.id;
    const { result, change } = await inSpace(ctx, s, (space) =>
      callMetaOp(
        {
          meta: space.meta,
          openElsewhere: (inos) => ctx.coordinator.openElsewhere(userId, inos, clientId),
          deferPurge: (ino) => ctx.purges.add(userId, s.user.blockSize, ino),
        },
        body.op,
        args,
      ),
    );
    if (change) await ctx.coordinator.publish(userId, { origin: clientId, ...change });
    return { result: encodeWire(result) };
  });
}
