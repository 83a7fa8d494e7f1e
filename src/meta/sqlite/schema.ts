import type Database from 'better-sqlite3';
import { VolumeError } from '../../errors.js';

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = 2;
export const SETTING_SCHEMA_VERSION = 'schema_version';

/**
 * migrations[i] takes a store from version i to version i+1. Add new steps at the end; never edit a
 * released one. Each runs inside the same transaction as the version bump.
 */
const migrations: Array<(db: Database.Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

      -- AUTOINCREMENT: inode numbers are never reused, so caches keyed by ino cannot go stale.
      CREATE TABLE inodes (
        ino INTEGER PRIMARY KEY AUTOINCREMENT,
        mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
        size INTEGER NOT NULL, nlink INTEGER NOT NULL, rdev INTEGER NOT NULL,
        atime_s INTEGER NOT NULL, atime_ns INTEGER NOT NULL,
        mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
        ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
        crtime_s INTEGER NOT NULL, crtime_ns INTEGER NOT NULL
      );
      CREATE INDEX inodes_orphans ON inodes(ino) WHERE nlink = 0;

      CREATE TABLE entries (
        parent INTEGER NOT NULL, name TEXT NOT NULL, ino INTEGER NOT NULL,
        PRIMARY KEY (parent, name)
      ) WITHOUT ROWID;
      CREATE INDEX entries_ino ON entries(ino);

      -- Directories only; every directory has its (d, d, 0) row.
      CREATE TABLE closure (
        ancestor INTEGER NOT NULL, descendant INTEGER NOT NULL, depth INTEGER NOT NULL,
        PRIMARY KEY (ancestor, descendant)
      ) WITHOUT ROWID;
      CREATE INDEX closure_descendant ON closure(descendant, ancestor);

      CREATE TABLE symlinks (ino INTEGER PRIMARY KEY, target TEXT NOT NULL);

      CREATE TABLE xattrs (
        ino INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
        PRIMARY KEY (ino, name)
      ) WITHOUT ROWID;

      CREATE TABLE slices (
        ino INTEGER NOT NULL, chunk INTEGER NOT NULL, seq INTEGER NOT NULL,
        chunk_off INTEGER NOT NULL, len INTEGER NOT NULL,
        block_id TEXT NOT NULL, block_off INTEGER NOT NULL,
        PRIMARY KEY (ino, chunk, seq)
      ) WITHOUT ROWID;
      CREATE INDEX slices_block ON slices(block_id);

      -- zero_since: epoch ms when refs became 0, NULL while referenced.
      CREATE TABLE blocks (
        id TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL,
        refs INTEGER NOT NULL, zero_since INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX blocks_unreferenced ON blocks(zero_since) WHERE zero_since IS NOT NULL;
    `);
  },
  // alloc: bytes the inode's slices reference (st_blocks), kept incrementally by SliceTable.
  (db) => {
    db.exec(`
      ALTER TABLE inodes ADD COLUMN alloc INTEGER NOT NULL DEFAULT 0;
      UPDATE inodes SET alloc = (SELECT coalesce(sum(len), 0) FROM slices s WHERE s.ino = inodes.ino)
        WHERE ino IN (SELECT DISTINCT ino FROM slices);
    `);
  },
];

function currentVersion(db: Database.Database): number {
  const hasSettings = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'`)
    .get();
  if (!hasSettings) return 0;
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(SETTING_SCHEMA_VERSION) as
    | { value: string }
    | undefined;
  if (!row) throw new VolumeError('metadata store has a settings table but no schema_version');
  const v = Number(row.value);
  if (!Number.isInteger(v) || v < 1) throw new VolumeError(`bad schema_version ${JSON.stringify(row.value)}`);
  return v;
}

/** Bring the database to SCHEMA_VERSION, creating it when empty. Returns true if it was created. */
export function migrate(db: Database.Database): boolean {
  return db.transaction(() => {
    const from = currentVersion(db);
    if (from > SCHEMA_VERSION) {
      throw new VolumeError(
        `metadata schema version ${from} is newer than this program understands (${SCHEMA_VERSION})`,
      );
    }
    for (let v = from; v < SCHEMA_VERSION; v++) migrations[v](db);
    if (from < SCHEMA_VERSION) {
      db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
        .run(SETTING_SCHEMA_VERSION, String(SCHEMA_VERSION));
    }
    return from === 0;
  }).immediate();
}
