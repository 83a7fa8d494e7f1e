import type pg from 'pg';
import { VolumeError } from '../../errors.js';
import { checkSchemaName, runText, transaction } from './pgClient.js';

/** One migration step: SQL run with `schema` already checked (interpolate it quoted: "schema"). */
export type Migration = (schema: string) => string;

/**
 * Bring `schema` to version `steps.length`, creating the schema when missing. The version lives in
 * `"schema".schema_version` (one row). All steps run in one transaction under a transaction-level
 * advisory lock keyed by the schema name, so servers starting together never race (the second
 * waits, then finds the work done). Steps are append-only: never edit a released one.
 * Returns the version found before (0 = created).
 */
export async function migrateSchema(pool: pg.Pool, schema: string, steps: Migration[]): Promise<number> {
  checkSchemaName(schema);
  return transaction(pool, async (c) => {
    await runText(c, `SELECT pg_advisory_xact_lock(hashtext('mosaicfs-migrate:' || $1::text))`, [schema]);
    await runText(c, `CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await runText(c, `CREATE TABLE IF NOT EXISTS "${schema}".schema_version (
      one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INT NOT NULL)`);
    const rows = await runText<{ version: number }>(c, `SELECT version FROM "${schema}".schema_version`);
    const from = rows.length === 0 ? 0 : rows[0].version;
    if (from > steps.length) {
      throw new VolumeError(`schema ${schema} is at version ${from}, newer than this program understands (${steps.length})`);
    }
    for (let v = from; v < steps.length; v++) await c.query(steps[v](schema));
    if (from < steps.length) {
      await runText(c, `INSERT INTO "${schema}".schema_version (one, version) VALUES (true, $1)
        ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`, [steps.length]);
    }
    return from;
  });
}

/** The recorded version of a schema (0 if it has none). */
export async function schemaVersion(db: pg.Pool | pg.PoolClient, schema: string): Promise<number> {
  checkSchemaName(schema);
  const exists = await runText(db, `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_version'`, [schema]);
  if (exists.length === 0) return 0;
  const rows = await runText<{ version: number }>(db, `SELECT version FROM "${schema}".schema_version`);
  return rows.length === 0 ? 0 : rows[0].version;
}
