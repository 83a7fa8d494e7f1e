import { S3BodyError } from './s3Errors.js';

/** What a GetObject reply says about its body. */
export interface BodyHeaders {
  ContentLength?: number;
  ContentRange?: string;
}

/** Parsed `Content-Range: bytes a-b/total` (total may be '*'). */
export interface ContentRange {
  start: number;
  end: number;
  total: number | undefined;
}

const CONTENT_RANGE_RE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

export function parseContentRange(value: string): ContentRange {
  const m = CONTENT_RANGE_RE.exec(value.trim());
  if (!m) throw new S3BodyError(`malformed Content-Range ${JSON.stringify(value)}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new S3BodyError(`malformed Content-Range ${JSON.stringify(value)}`);
  return { start, end, total: m[3] === '*' ? undefined : Number(m[3]) };
}

/**
 * Reads a reply body into one buffer of exactly Content-Length bytes. A reply without a length, a
 * body that ends early (including a connection cut mid-body) or runs long is an S3BodyError: never
 * data.
 */
export async function readExactBody(body: unknown, headers: BodyHeaders): Promise<Buffer> {
  const expected = headers.ContentLength;
  if (expected === undefined || !Number.isSafeInteger(expected) || expected < 0) {
    discard(body);
    throw new S3BodyError('reply has no valid Content-Length');
  }
  if (body === undefined || body === null) {
    if (expected === 0) return Buffer.alloc(0);
    throw new S3BodyError(`reply has no body but Content-Length ${expected}`);
  }
  const out = Buffer.allocUnsafe(expected);
  let got = 0;
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (got + chunk.length > expected) {
        discard(body);
        throw new S3BodyError(`reply body is longer than its Content-Length ${expected}`);
      }
      out.set(chunk, got);
      got += chunk.length;
    }
  } catch (err) {
    if (err instanceof S3BodyError) throw err;
    throw new S3BodyError(`reply body broke off after ${got} of ${expected} bytes: ${(err as Error).message}`, { cause: err });
  }
  if (got !== expected) throw new S3BodyError(`reply body is ${got} bytes but Content-Length says ${expected}`);
  return out;
}

/** Drop a body we will not read, so its socket is freed. */
export function discard(body: unknown): void {
  const b = body as { destroy?: () => void } | undefined;
  b?.destroy?.();
}
