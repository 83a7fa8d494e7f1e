import type { Migration } from '../../meta/postgres/migrate.js';

/** Schema of the tables every server of a deployment shares (users, tokens, coordination). */
export const SERVER_SCHEMA = 'mosaicfs';

export const SERVER_MIGRATIONS: Migration[] = [
  (s) => `
    CREATE TABLE "${s}".users (
      id TEXT PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE,
      login_salt TEXT NOT NULL, login_kdf JSONB NOT NULL, verifier JSONB NOT NULL,
      volume_id TEXT NOT NULL, block_size INT NOT NULL, wrapped_key JSONB NOT NULL,
      disabled BOOLEAN NOT NULL, created BIGINT NOT NULL
    );
    CREATE TABLE "${s}".tokens (
      hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at BIGINT NOT NULL, created BIGINT NOT NULL
    );
    CREATE INDEX tokens_user ON "${s}".tokens (user_id);
    CREATE TABLE "${s}".server_secret (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), secret BYTEA NOT NULL);

    -- Coordination: seen is epoch ms (database clock) of the client's last sign of life.
    CREATE TABLE "${s}".clients (
      user_id TEXT NOT NULL, client_id TEXT NOT NULL, seen BIGINT NOT NULL, PRIMARY KEY (user_id, client_id)
    );
    CREATE TABLE "${s}".leases (
      user_id TEXT NOT NULL, ino BIGINT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (user_id, ino)
    );
    CREATE INDEX leases_client ON "${s}".leases (user_id, client_id);
    CREATE TABLE "${s}".opens (
      user_id TEXT NOT NULL, ino BIGINT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (user_id, ino, client_id)
    );
    CREATE INDEX opens_client ON "${s}".opens (user_id, client_id);
  `,
];
