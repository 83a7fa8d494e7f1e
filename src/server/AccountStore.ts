import type { AuthVerifier } from '../auth/passwordKeys.js';
import type { KdfParams, WrappedKeyWire } from '../remote/protocol.js';

/**
 * Users and sessions of a `mosaicfs serve` deployment. Engines: SQLite (server.db in the data
 * folder) and PostgreSQL (tables in the shared database, so several servers see the same users
 * and tokens). The server never holds a password, a KEK or a volume key: only what is below.
 */
export interface UserRecord {
  /** Stable id: names the user's namespace (SQLite file, PostgreSQL schema, block prefix). [a-z0-9]{16}. */
  id: string;
  /** Login name: 1-64 chars of [A-Za-z0-9._-], not starting with '.' or '-'. */
  name: string;
  /** Client-side KDF salt (base64) and params, returned by prelogin. */
  loginSalt: string;
  loginKdf: KdfParams;
  /** Check of the client's authKey. */
  verifier: AuthVerifier;
  /** The user's volume. */
  volumeId: string;
  blockSize: number;
  wrappedKey: WrappedKeyWire;
  disabled: boolean;
  /** Epoch ms. */
  created: number;
}

export interface TokenRecord {
  /** sha256 of the bearer token, hex: the token itself is never stored. */
  hash: string;
  userId: string;
  /** Epoch ms. */
  expiresAt: number;
  created: number;
}

export interface AccountStore {
  /** Create tables if missing (versioned). Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  /** EEXIST (FsError) if the name is taken. */
  addUser(user: UserRecord): Promise<void>;
  getUserByName(name: string): Promise<UserRecord | null>;
  getUserById(id: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  /** Replace login salt/kdf, verifier and wrapped key (password change). ENOENT if absent. */
  updateCredentials(id: string, c: Pick<UserRecord, 'loginSalt' | 'loginKdf' | 'verifier' | 'wrappedKey'>): Promise<void>;
  setDisabled(id: string, disabled: boolean): Promise<void>;
  /** Removes the user and their tokens (the namespace's data is removed by the caller). */
  deleteUser(id: string): Promise<void>;

  addToken(t: TokenRecord): Promise<void>;
  /** The token if it exists and has not expired (expired ones may be deleted on the way). */
  getToken(hash: string, nowMs: number): Promise<TokenRecord | null>;
  deleteToken(hash: string): Promise<void>;
  deleteUserTokens(userId: string): Promise<void>;

  /** A random secret created once per deployment (fake prelogin salts, etc.), base64. */
  serverSecret(): Promise<Buffer>;
}
