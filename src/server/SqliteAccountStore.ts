import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { FsError } from '../errors.js';
import type { AccountStore, TokenRecord, UserRecord } from './AccountStore.js';

const SCHEMA_VERSION = 1;
const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     record TEXT NOT NULL
   );
   CREATE TABLE tokens (
     hash TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     expires_at INTEGER NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE INDEX tokens_by_user ON tokens(user_id);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/**
 * AccountStore on SQLite (dataDir/server.db) for a single server. A user row keeps its searchable
 * columns (id, name) and the rest of the UserRecord as JSON. better-sqlite3 is synchronous, but each
 * call is one indexed statement, so the request path is not held up.
 *
 * Every authenticated request reads its token and user: those reads are memoised, and the memo is
 * exact, never stale. It is dropped on every write through this connection, and whenever
 * `PRAGMA data_version` moves, which SQLite guarantees for every commit by another connection
 * (`mosaicfs user disable` run next to the server): a revoked token or disabled user is refused on
 * the very next request.
 */
export class SqliteAccountStore implements AccountStore {
  private readonly db: Database.Database;
  private readonly memo = new ReadMemo();
  private statements?: {
    dataVersion: Database.Statement;
    tokenByHash: Database.Statement;
    userById: Database.Statement;
  };

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
  }

  async init(): Promise<void> {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`server.db has schema version ${version}, newer than this build (${SCHEMA_VERSION})`);
    this.db.transaction(() => {
      for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
    this.statements = {
      dataVersion: this.db.prepare('PRAGMA data_version').pluck(),
      tokenByHash: this.db.prepare('SELECT hash, user_id, expires_at, created FROM tokens WHERE hash = ?'),
      userById: this.db.prepare('SELECT record FROM users WHERE id = ?'),
    };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async addUser(user: UserRecord): Promise<void> {
    this.changed();
    try {
      this.db.prepare('INSERT INTO users (id, name, record) VALUES (?, ?, ?)').run(user.id, user.name, JSON.stringify(user));
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new FsError('EEXIST', `user ${user.name} exists`);
      throw err;
    }
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    return rowToUser(this.db.prepare('SELECT record FROM users WHERE name = ?').get(name));
  }

  async getUserById(id: string): Promise<UserRecord | null> {
    const st = this.prepared();
    this.memo.validate(st.dataVersion.get() as number);
    const hit = this.memo.users.get(id);
    if (hit !== undefined) return hit;
    const user = rowToUser(st.userById.get(id));
    this.memo.users.set(id, user && deepFreeze(user));
    return user;
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.db.prepare('SELECT record FROM users ORDER BY name').all().map((r) => rowToUser(r)!);
  }

  async updateCredentials(id: string, c: Pick<UserRecord, 'loginSalt' | 'loginKdf' | 'verifier' | 'wrappedKey'>): Promise<void> {
    this.update(id, (u) => ({ ...u, loginSalt: c.loginSalt, loginKdf: c.loginKdf, verifier: c.verifier, wrappedKey: c.wrappedKey }));
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    this.update(id, (u) => ({ ...u, disabled }));
  }

  async deleteUser(id: string): Promise<void> {
    this.changed();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM tokens WHERE user_id = ?').run(id);
      this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
    }).immediate();
  }

  async addToken(t: TokenRecord): Promise<void> {
    this.changed();
    this.db.prepare('INSERT INTO tokens (hash, user_id, expires_at, created) VALUES (?, ?, ?, ?)').run(t.hash, t.userId, t.expiresAt, t.created);
  }

  async getToken(hash: string, nowMs: number): Promise<TokenRecord | null> {
    const st = this.prepared();
    this.memo.validate(st.dataVersion.get() as number);
    let token = this.memo.tokens.get(hash);
    if (token === undefined) {
      const row = st.tokenByHash.get(hash) as { hash: string; user_id: string; expires_at: number; created: number } | undefined;
      token = row ? Object.freeze({ hash: row.hash, userId: row.user_id, expiresAt: row.expires_at, created: row.created }) : null;
      this.memo.tokens.set(hash, token);
    }
    if (!token) return null;
    if (token.expiresAt <= nowMs) {
      this.changed();
      this.db.prepare('DELETE FROM tokens WHERE hash = ?').run(hash);
      return null;
    }
    return token;
  }

  async deleteToken(hash: string): Promise<void> {
    this.changed();
    this.db.prepare('DELETE FROM tokens WHERE hash = ?').run(hash);
  }

  async deleteUserTokens(userId: string): Promise<void> {
    this.changed();
    this.db.prepare('DELETE FROM tokens WHERE user_id = ?').run(userId);
  }

  async serverSecret(): Promise<Buffer> {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM settings WHERE key = 'server_secret'").get() as { value: string } | undefined;
      if (row) return Buffer.from(row.value, 'base64');
      const secret = randomBytes(32);
      this.db.prepare("INSERT INTO settings (key, value) VALUES ('server_secret', ?)").run(secret.toString('base64'));
      return secret;
    }).immediate();
  }

  private update(id: string, change: (u: UserRecord) => UserRecord): void {
    this.changed();
    this.db.transaction(() => {
      const user = rowToUser(this.db.prepare('SELECT record FROM users WHERE id = ?').get(id));
      if (!user) throw new FsError('ENOENT', `no user with id ${id}`);
      this.db.prepare('UPDATE users SET record = ? WHERE id = ?').run(JSON.stringify(change(user)), id);
    }).immediate();
  }

  /** Forget memoised reads: called before every write through this connection. */
  private changed(): void {
    this.memo.clear();
  }

  private prepared(): NonNullable<SqliteAccountStore['statements']> {
    if (!this.statements) throw new Error('SqliteAccountStore: init() first');
    return this.statements;
  }
}

/** Memoised records are shared between callers: frozen, so none can change another's copy. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Token and user reads since the database last changed (null = known absent). Bounded. */
class ReadMemo {
  static readonly MAX = 10_000;
  readonly tokens = new Map<string, TokenRecord | null>();
  readonly users = new Map<string, UserRecord | null>();
  private version = -1;

  validate(dataVersion: number): void {
    if (dataVersion !== this.version || this.tokens.size + this.users.size > ReadMemo.MAX) {
      this.clear();
      this.version = dataVersion;
    }
  }

  clear(): void {
    this.tokens.clear();
    this.users.clear();
  }
}

function rowToUser(row: unknown): UserRecord | null {
  return row ? (JSON.parse((row as { record: string }).record) as UserRecord) : null;
}
