/**
 * Slows down password guessing: per key (a user name, a client IP), after `freeFailures` failures
 * every further attempt is refused for a window that doubles with each failure (1 s, 2 s, 4 s...
 * capped). A success resets the key. State is in memory and forgotten after an hour of quiet.
 */
export interface ThrottleOptions {
  freeFailures?: number;
  baseMs?: number;
  maxMs?: number;
}

interface KeyState {
  failures: number;
  blockedUntil: number;
  last: number;
}

const FORGET_AFTER_MS = 60 * 60_000;

export class LoginThrottle {
  private readonly keys = new Map<string, KeyState>();
  private readonly free: number;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(opts: ThrottleOptions = {}, private readonly clock: () => number = Date.now) {
    this.free = opts.freeFailures ?? 3;
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 60_000;
  }

  /** Milliseconds the caller must still wait before trying any of these keys (0 = go ahead). */
  waitMs(keys: string[]): number {
    const t = this.clock();
    let wait = 0;
    for (const k of keys) {
      const s = this.keys.get(k);
      if (s) wait = Math.max(wait, s.blockedUntil - t);
    }
    return wait;
  }

  failed(keys: string[]): void {
    const t = this.clock();
    this.prune(t);
    for (const k of keys) {
      const s = this.keys.get(k) ?? { failures: 0, blockedUntil: 0, last: t };
      s.failures++;
      s.last = t;
      if (s.failures >= this.free) {
        const delay = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(30, s.failures - this.free));
        s.blockedUntil = t + delay;
      }
      this.keys.set(k, s);
    }
  }

  succeeded(keys: string[]): void {
    for (const k of keys) this.keys.delete(k);
  }

  private prune(t: number): void {
    if (this.keys.size < 10_000) return;
    for (const [k, s] of this.keys) if (t - s.last > FORGET_AFTER_MS) this.keys.delete(k);
  }
}
