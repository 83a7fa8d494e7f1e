import type { FastifyReply } from 'fastify';
import type { ErrorBody } from '../remote/protocol.js';

export type WireErrorCode = ErrorBody['error']['code'];

/** An HTTP failure with the protocol's error code: thrown by handlers, answered by the error handler. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: WireErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'EBADREQ', message);
}

export function sendError(reply: FastifyReply, status: number, code: WireErrorCode, message: string): FastifyReply {
  const body: ErrorBody = { error: { code, message } };
  return reply.code(status).type('application/json').send(body);
}
