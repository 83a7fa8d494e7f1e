import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signs CDN attachment paths the way Discord's URLs look: ?ex=<hex expiry s>&is=<hex issued s>&hm=<hex
 * signature>. The signature covers the path, ex and is; rotating the secret revokes every URL out.
 */
export class CdnSigner {
  private secret = randomBytes(32);

  rotate(): void {
    this.secret = randomBytes(32);
  }

  sign(pathname: string, ttlMs: number, now = Date.now()): string {
    const is = Math.floor(now / 1000).toString(16);
    const ex = Math.ceil((now + ttlMs) / 1000).toString(16); // never issued already expired
    return `${pathname}?ex=${ex}&is=${is}&hm=${this.mac(pathname, ex, is)}`;
  }

  /** True when the query carries a valid signature for the path and has not expired. */
  verify(pathname: string, query: URLSearchParams, now = Date.now()): boolean {
    const ex = query.get('ex');
    const is = query.get('is');
    const hm = query.get('hm');
    if (!ex || !is || !hm || !/^[0-9a-f]+$/.test(ex) || !/^[0-9a-f]{64}$/.test(hm)) return false;
    const want = Buffer.from(this.mac(pathname, ex, is), 'hex');
    if (!timingSafeEqual(want, Buffer.from(hm, 'hex'))) return false;
    return now < parseInt(ex, 16) * 1000;
  }

  private mac(pathname: string, ex: string, is: string): string {
    return createHmac('sha256', this.secret).update(`${pathname}\n${ex}\n${is}`).digest('hex');
  }
}
