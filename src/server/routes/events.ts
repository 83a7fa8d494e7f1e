import type { FastifyInstance } from 'fastify';
import { ROUTES, type ChangeEvent } from '../../remote/protocol.js';
import { authenticate, requireClientId, type ServerContext } from '../context.js';

/**
 * Server-sent events: the user's ChangeEvents made by OTHER clients, `event: change`, plus a
 * `: ping` comment every ssePingMs (which also keeps the client's leases alive while connected).
 * When the stream closes, the client is simply left to expire.
 */
export function registerEventRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(ROUTES.events, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const clientId = requireClientId(s);
    const userId = s.user.id;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    const unsubscribe = ctx.coordinator.subscribe(userId, (event: ChangeEvent) => {
      if (event.origin === clientId) return;
      res.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const ping = setInterval(() => {
      res.write(': ping\n\n');
      ctx.coordinator.touch(userId, clientId).catch(() => {});
    }, ctx.ssePingMs);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      unsubscribe();
      ctx.streams.delete(end);
      if (!res.writableEnded) res.end();
    };
    ctx.streams.add(end);
    req.raw.on('close', end);
    res.on('close', end);
    res.on('error', end);
  });
}
