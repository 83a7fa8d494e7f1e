import { createHash } from 'node:crypto';

/** A fixed-window limit: `limit` requests per `windowMs`, the window starting at its first request. */
export interface RouteLimit {
  limit: number;
  windowMs: number;
}

export interface LimitVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms at which the window resets. */
  resetAt: number;
}

class Window {
  private start = 0;
  private used = 0;

  take(spec: RouteLimit, now: number): LimitVerdict {
    if (now >= this.start + spec.windowMs) {
      this.start = now;
      this.used = 0;
    }
    const allowed = this.used < spec.limit;
    if (allowed) this.used++;
    return { allowed, limit: spec.limit, remaining: spec.limit - this.used, resetAt: this.start + spec.windowMs };
  }
}

/** Windows keyed by (token, bucket, top-level resource), as Discord computes per-route limits. */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  take(key: string, spec: RouteLimit, now = Date.now()): LimitVerdict {
    let w = this.windows.get(key);
    if (!w) {
      w = new Window();
      this.windows.set(key, w);
    }
    return w.take(spec, now);
  }

  reset(): void {
    this.windows.clear();
  }
}

/** X-RateLimit-Bucket: an opaque id of the route's limit that leaves out the top-level resource. */
export function bucketHash(routeKey: string): string {
  return createHash('sha1').update(`mosaicfs-emulator:${routeKey}`).digest('hex').slice(0, 32);
}

/** The per-route headers Discord sends on every response of a limited route (and on its 429s). */
export function routeHeaders(v: LimitVerdict, bucket: string, now = Date.now()): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(v.limit),
    'X-RateLimit-Remaining': String(Math.max(0, v.remaining)),
    'X-RateLimit-Reset': (v.resetAt / 1000).toFixed(3),
    'X-RateLimit-Reset-After': (Math.max(0, v.resetAt - now) / 1000).toFixed(3),
    'X-RateLimit-Bucket': bucket,
  };
}
