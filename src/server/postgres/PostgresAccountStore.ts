import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { FsError } from '../../errors.js';
import { migrateSchema } from '../../meta/postgres/migrate.js';
import { pgCode, retrying, runText } from '../../meta/postgres/pgClient.js';
import type { AccountStore, TokenRecord, UserRecord } from '../AccountStore.js';
import { SERVER_MIGRATIONS, SERVER_SCHEMA } from './schema.js';

const S = `"${SERVER_SCHEMA}"`;
const USER_COLUMNS = 'id, name, login_salt, login_kdf, verifier, volume_id, block_size, wrapped_key, disabled, created';

interface UserRow {
  id: string; name: string; login_salt: string; login_kdf: UserRecord['loginKdf']; verifier: UserRecord['verifier'];
  volume_id: string; block_size: number; wrapped_key: UserRecord['wrappedKey']; disabled: boolean; created: number;
}

/** Users and tokens in the `mosaicfs` schema of the shared database: every server sees the same accounts. */
export class PostgresAccountStore implements AccountStore {
  constructor(private readonly pool: pg.Pool, private readonly ownsPool = false) {}

  async init(): Promise<void> {
    await migrateSchema(this.pool, SERVER_SCHEMA, SERVER_MIGRATIONS);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  async addUser(u: UserRecord): Promise<void> {
    try {
      await this.q(`INSERT INTO ${S}.users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        u.id, u.name, u.loginSalt, JSON.stringify(u.loginKdf), JSON.stringify(u.verifier), u.volumeId, u.blockSize,
        JSON.stringify(u.wrappedKey), u.disabled, u.created,
      ]);
    } catch (err) {
      if (err instanceof FsError && err.code === 'EEXIST') throw new FsError('EEXIST', `user ${u.name} exists`);
      throw err;
    }
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    const rows = await this.q<UserRow>(`SELECT ${USER_COLUMNS} FROM ${S}.users WHERE name = $1`, [name]);
    return rows.length ? toUser(rows[0]) : null;
  }

  async getUserById(id: string): Promise<UserRecord | null> {
    const rows = await this.q<UserRow>(`SELECT ${USER_COLUMNS} FROM ${S}.users WHERE id = $1`, [id]);
    return rows.length ? toUser(rows[0]) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.q<UserRow>(`SELECT ${USER_COLUMNS} FROM ${S}.users ORDER BY name`)).map(toUser);
  }

  async updateCredentials(id: string, c: Pick<UserRecord, 'loginSalt' | 'loginKdf' | 'verifier' | 'wrappedKey'>): Promise<void> {
    const rows = await this.q(`UPDATE ${S}.users SET login_salt = $2, login_kdf = $3, verifier = $4, wrapped_key = $5
      WHERE id = $1 RETURNING id`, [id, c.loginSalt, JSON.stringify(c.loginKdf), JSON.stringify(c.verifier), JSON.stringify(c.wrappedKey)]);
    if (rows.length === 0) throw new FsError('ENOENT', `no user with id ${id}`);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    const rows = await this.q(`UPDATE ${S}.users SET disabled = $2 WHERE id = $1 RETURNING id`, [id, disabled]);
    if (rows.length === 0) throw new FsError('ENOENT', `no user with id ${id}`);
  }

  async deleteUser(id: string): Promise<void> {
    await this.q(`WITH t AS (DELETE FROM ${S}.tokens WHERE user_id = $1) DELETE FROM ${S}.users WHERE id = $1`, [id]);
  }

  async addToken(t: TokenRecord): Promise<void> {
    await this.q(`INSERT INTO ${S}.tokens (hash, user_id, expires_at, created) VALUES ($1, $2, $3, $4)`,
      [t.hash, t.userId, t.expiresAt, t.created]);
  }

  async getToken(hash: string, nowMs: number): Promise<TokenRecord | null> {
    const rows = await this.q<{ hash: string; user_id: string; expires_at: number; created: number }>(
      `SELECT hash, user_id, expires_at, created FROM ${S}.tokens WHERE hash = $1`, [hash]);
    if (rows.length === 0) return null;
    const r = rows[0];
    if (r.expires_at <= nowMs) {
      await this.deleteToken(hash);
      return null;
    }
    return { hash: r.hash, userId: r.user_id, expiresAt: r.expires_at, created: r.created };
  }

  async deleteToken(hash: string): Promise<void> {
    await this.q(`DELETE FROM ${S}.tokens WHERE hash = $1`, [hash]);
  }

  async deleteUserTokens(userId: string): Promise<void> {
    await this.q(`DELETE FROM ${S}.tokens WHERE user_id = $1`, [userId]);
  }

  async serverSecret(): Promise<Buffer> {
    await this.q(`INSERT INTO ${S}.server_secret (one, secret) VALUES (true, $1) ON CONFLICT (one) DO NOTHING`, [randomBytes(32)]);
    const rows = await this.q<{ secret: Buffer }>(`SELECT secret FROM ${S}.server_secret`);
    return rows[0].secret;
  }

  /** One statement, rerun on a serialization conflict; a duplicate key is EEXIST. */
  private q<R = any>(text: string, values: unknown[] = []): Promise<R[]> {
    return retrying(() => runText<R>(this.pool, text, values), false).catch((err) => {
      if (pgCode(err) === '23505') throw new FsError('EEXIST', (err as Error).message);
      throw err;
    });
  }
}

function toUser(r: UserRow): UserRecord {
  return {
    id: r.id, name: r.name, loginSalt: r.login_salt, loginKdf: r.login_kdf, verifier: r.verifier,
    volumeId: r.volume_id, blockSize: r.block_size, wrappedKey: r.wrapped_key, disabled: r.disabled, created: r.created,
  };
}
