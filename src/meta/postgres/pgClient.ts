import pg from 'pg';
import { FsError } from '../../errors.js';

/**
 * Shared PostgreSQL plumbing for the metadata, account and coordination engines: number parsing,
 * identifier checks, named (prepared) statements and SERIALIZABLE transactions with retry.
 */

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * int8 and numeric (sum() of bigint) as JS numbers: inode numbers, sizes and times stay far below
 * 2^53. Passed per query, so the global pg type table (other users of `pg`) is left alone.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** A schema name we interpolate into SQL: lower-case letters, digits and '_' only. */
export function checkSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !IDENT_RE.test(schema)) {
    throw new RangeError(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
  }
  return schema;
}

export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

/** A statement with a name unique per text, prepared once per connection by node-postgres. */
export interface Stmt {
  name: string;
  text: string;
}

export async function run<R = any>(db: Queryable, stmt: Stmt, values: unknown[] = []): Promise<R[]> {
  const res = await db.query({ name: stmt.name, text: stmt.text, values, types: PG_TYPES });
  return res.rows as R[];
}

/** An unnamed one-off statement (DDL, checks). */
export async function runText<R = any>(db: Queryable, text: string, values: unknown[] = []): Promise<R[]> {
  const res = await db.query({ text, values, types: PG_TYPES });
  return res.rows as R[];
}

/** SQLSTATEs after which the whole transaction is simply run again. */
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
const UNIQUE_VIOLATION = '23505';
const MAX_ATTEMPTS = 60;

export function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * A pool whose sessions default to SERIALIZABLE, so a single statement outside BEGIN/COMMIT is a
 * serializable transaction of its own (one round trip for one-statement operations).
 */
export function createPostgresPool(url: string, max = 10): pg.Pool {
  return new pg.Pool({ connectionString: url, max, options: '-c default_transaction_isolation=serializable' });
}

/** Do this pool's sessions default to SERIALIZABLE (see createPostgresPool)? */
export async function poolIsSerializable(pool: pg.Pool): Promise<boolean> {
  const res = await pool.query('SHOW default_transaction_isolation');
  return res.rows[0]?.default_transaction_isolation === 'serializable';
}

function isRetryable(code: string | undefined, uniqueIsConflict: boolean): boolean {
  return code !== undefined && (RETRYABLE.has(code) || (uniqueIsConflict && code === UNIQUE_VIOLATION));
}

/**
 * Run an attempt until it does not fail with a serialization failure, a deadlock or a unique
 * violation (a concurrent insert of the same key): a rerun re-reads everything it decides on, so
 * it sees the winner's commit and answers as if it had come second (e.g. EEXIST). A unique
 * violation that persists is reported as EEXIST. The attempt must have no side effects outside
 * the database transaction.
 */
export async function retrying<T>(attempt: () => Promise<T>, uniqueIsConflict = true): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const code = pgCode(err);
      if (!isRetryable(code, uniqueIsConflict)) throw err;
      if (n >= MAX_ATTEMPTS) {
        if (code === UNIQUE_VIOLATION) throw new FsError('EEXIST', (err as Error).message);
        throw new FsError('EAGAIN', `transaction kept conflicting: ${(err as Error).message}`);
      }
    }
    await backoff(n);
  }
}

/** Run fn in one SERIALIZABLE transaction on a pooled connection, rerun on conflicts (retrying). */
export function serializable<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(() => inTransaction(pool, 'BEGIN ISOLATION LEVEL SERIALIZABLE', fn));
}

/** A transaction at READ COMMITTED (migrations: each statement sees what committed before it, e.g. after an advisory lock). */
export function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, 'BEGIN ISOLATION LEVEL READ COMMITTED', fn);
}

async function inTransaction<T>(pool: pg.Pool, begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(begin);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 1 + attempt * 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
