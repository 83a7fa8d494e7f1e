import type { AccountStore, TokenRecord, UserRecord } from './AccountStore.js';

/** How stale a token or user read may be when another server (or admin command) changes it. */
export const ACCOUNT_CACHE_MS = 1_000;

/**
 * Token and user reads of the request path, cached for `ttlMs` in front of an AccountStore whose
 * every read is a network round trip (PostgreSQL). Writes through this object take effect at once
 * here; writes elsewhere (another server of the deployment, `mosaicfs user disable`) within ttlMs:
 * a revoked token or disabled user is refused at most 1 s later by default. Expiry is checked on
 * every read. (SqliteAccountStore needs none of this: its own memo is exact.)
 */
export class CachingAccountStore implements AccountStore {
  private readonly tokens = new Map<string, { at: number; value: TokenRecord | null }>();
  private readonly users = new Map<string, { at: number; value: UserRecord | null }>();

  constructor(private readonly inner: AccountStore, private readonly ttlMs = ACCOUNT_CACHE_MS, private readonly clock: () => number = Date.now) {}

  init(): Promise<void> { return this.inner.init(); }
  close(): Promise<void> { return this.inner.close(); }
  getUserByName(name: string): Promise<UserRecord | null> { return this.inner.getUserByName(name); }
  listUsers(): Promise<UserRecord[]> { return this.inner.listUsers(); }
  serverSecret(): Promise<Buffer> { return this.inner.serverSecret(); }

  addUser(user: UserRecord): Promise<void> { return this.write(() => this.inner.addUser(user)); }
  updateCredentials(id: string, c: Pick<UserRecord, 'loginSalt' | 'loginKdf' | 'verifier' | 'wrappedKey'>): Promise<void> {
    return this.write(() => this.inner.updateCredentials(id, c));
  }
  setDisabled(id: string, disabled: boolean): Promise<void> { return this.write(() => this.inner.setDisabled(id, disabled)); }
  deleteUser(id: string): Promise<void> { return this.write(() => this.inner.deleteUser(id)); }
  addToken(t: TokenRecord): Promise<void> { return this.write(() => this.inner.addToken(t)); }
  deleteToken(hash: string): Promise<void> { return this.write(() => this.inner.deleteToken(hash)); }
  deleteUserTokens(userId: string): Promise<void> { return this.write(() => this.inner.deleteUserTokens(userId)); }

  async getToken(hash: string, nowMs: number): Promise<TokenRecord | null> {
    const hit = this.fresh(this.tokens, hash);
    if (hit !== undefined) {
      if (!hit || hit.expiresAt > nowMs) return hit;
      this.tokens.delete(hash); // expired: let the engine see (and delete) it
    }
    const at = this.clock();
    const value = await this.inner.getToken(hash, nowMs);
    this.remember(this.tokens, hash, at, value && Object.freeze({ ...value }));
    return value;
  }

  async getUserById(id: string): Promise<UserRecord | null> {
    const hit = this.fresh(this.users, id);
    if (hit !== undefined) return hit;
    const at = this.clock();
    const value = await this.inner.getUserById(id);
    this.remember(this.users, id, at, value && structuredClone(value));
    return value && structuredClone(value);
  }

  private async write(fn: () => Promise<void>): Promise<void> {
    this.tokens.clear();
    this.users.clear();
    try {
      await fn();
    } finally {
      // Reads that started before the write finished may have stored the old value.
      this.tokens.clear();
      this.users.clear();
    }
  }

  private fresh<V>(map: Map<string, { at: number; value: V }>, key: string): V | undefined {
    const e = map.get(key);
    if (!e) return undefined;
    const age = this.clock() - e.at;
    if (age >= 0 && age < this.ttlMs) return e.value;
    map.delete(key);
    return undefined;
  }

  private remember<V>(map: Map<string, { at: number; value: V }>, key: string, at: number, value: V): void {
    if (map.size >= 10_000) map.clear();
    map.set(key, { at, value });
  }
}
