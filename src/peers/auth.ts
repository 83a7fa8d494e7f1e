import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Request authentication with the cluster secret: HMAC-SHA-256 over method, path (with query),
 * timestamp, a nonce and the SHA-256 of the body. The server accepts a timestamp within
 * `windowMs` of its clock and each nonce once inside that window, so a captured request cannot
 * be replayed. Responses are not signed: blocks are sealed and authenticated by the client.
 */
export interface ClusterKey {
  /** HMAC key derived from the cluster secret. */
  readonly key: Buffer;
}

export function clusterKey(secret: string | Buffer): ClusterKey {
  return { key: createHmac('sha256', 'mosaicfs cluster auth v1').update(secret).digest() };
}

export const EMPTY_BODY_SHA256 = createHash('sha256').digest('hex');

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function mac(k: ClusterKey, parts: string[]): string {
  return createHmac('sha256', k.key).update(parts.join('\n')).digest('hex');
}

/** The value of the auth header for a request. */
export function signRequest(k: ClusterKey, method: string, pathWithQuery: string, bodySha256: string, now = Date.now()): string {
  const nonce = randomBytes(12).toString('hex');
  return `${now}.${nonce}.${mac(k, [method.toUpperCase(), pathWithQuery, String(now), nonce, bodySha256])}`;
}

export type AuthVerdict = { ok: true } | { ok: false; why: string };

/** Checks auth headers; remembers nonces for the window (replay protection). */
export class RequestVerifier {
  private readonly seen = new Map<string, number>();
  private lastPrune = 0;

  constructor(private readonly k: ClusterKey, private readonly windowMs = 60_000) {}

  verify(header: string | undefined, method: string, pathWithQuery: string, bodySha256: string, now = Date.now()): AuthVerdict {
    if (!header) return { ok: false, why: 'missing auth header' };
    const m = /^(\d{1,16})\.([0-9a-f]{24})\.([0-9a-f]{64})$/.exec(header);
    if (!m) return { ok: false, why: 'malformed auth header' };
    const t = Number(m[1]);
    if (Math.abs(now - t) > this.windowMs) return { ok: false, why: 'timestamp outside the accepted window' };
    const expected = Buffer.from(mac(this.k, [method.toUpperCase(), pathWithQuery, m[1], m[2], bodySha256]), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(m[3], 'hex'))) return { ok: false, why: 'bad signature' };
    this.prune(now);
    if (this.seen.has(m[2])) return { ok: false, why: 'replayed request' };
    this.seen.set(m[2], t);
    return { ok: true };
  }

  private prune(now: number): void {
    if (now - this.lastPrune < this.windowMs / 4) return;
    this.lastPrune = now;
    for (const [nonce, t] of this.seen) if (Math.abs(now - t) > this.windowMs) this.seen.delete(nonce);
  }
}

/** MAC of a discovery datagram's canonical JSON (every field but `mac`). */
export function datagramMac(k: ClusterKey, fields: Record<string, unknown>): string {
  const keys = Object.keys(fields).filter((x) => x !== 'mac').sort();
  return mac(k, ['udp', JSON.stringify(keys.map((x) => [x, fields[x]]))]);
}

export function datagramMacOk(k: ClusterKey, fields: Record<string, unknown>): boolean {
  if (typeof fields.mac !== 'string' || !/^[0-9a-f]{64}$/.test(fields.mac)) return false;
  return timingSafeEqual(Buffer.from(datagramMac(k, fields), 'hex'), Buffer.from(fields.mac, 'hex'));
}
