/**
 * Signed CDN URLs carry their expiry (`ex`, hex unix seconds) and issue time (`is`). A URL is used
 * until shortly before `ex`: a margin of a quarter of its lifetime, at most a minute, so a download
 * that starts just before expiry does not run into it.
 */
export function usableUntil(url: string): number {
  let ex = NaN;
  let is = NaN;
  try {
    const q = new URL(url).searchParams;
    ex = parseInt(q.get('ex') ?? '', 16) * 1000;
    is = parseInt(q.get('is') ?? '', 16) * 1000;
  } catch {
    return 0;
  }
  if (!Number.isFinite(ex)) return 0; // unsigned URL: fetch a fresh one every time
  const lifetime = Number.isFinite(is) && is < ex ? ex - is : 60_000;
  return ex - Math.min(60_000, lifetime / 4);
}

/** Block id -> signed URL, until each one's usable end. */
export class SignedUrlCache {
  private readonly urls = new Map<string, { url: string; until: number }>();

  get(key: string, now = Date.now()): string | undefined {
    const e = this.urls.get(key);
    if (!e) return undefined;
    if (now < e.until) return e.url;
    this.urls.delete(key);
    return undefined;
  }

  set(key: string, url: string): void {
    const until = usableUntil(url);
    if (until > Date.now()) this.urls.set(key, { url, until });
  }

  delete(key: string): void {
    this.urls.delete(key);
  }
}
