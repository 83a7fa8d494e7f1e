import type Database from 'better-sqlite3';
import { ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../MetaStore.js';
import { SETTING_SCHEMA_VERSION } from './schema.js';

const DIR = `(mode & ${S_IFMT}) = ${S_IFDIR}`;

/**
 * Metadata-only consistency check: full scans, for fsck. Returns human-readable problems; lines
 * starting with "orphan:" are informational (inodes with nlink 0 awaiting purge).
 */
export function checkSqliteStore(db: Database.Database, chunkSize: number): string[] {
  const problems: string[] = [];
  const each = (sql: string, describe: (row: any) => string, ...params: unknown[]) => {
    for (const row of db.prepare(sql).iterate(...params)) problems.push(describe(row));
  };

  if (!db.prepare('SELECT 1 FROM settings WHERE key = ?').get(SETTING_SCHEMA_VERSION)) {
    problems.push('settings: schema_version missing');
  }
  const root = db.prepare('SELECT mode FROM inodes WHERE ino = ?').get(ROOT_INO) as { mode: number } | undefined;
  if (!root) problems.push(`root inode ${ROOT_INO} missing`);
  else if ((root.mode & S_IFMT) !== S_IFDIR) problems.push(`root inode ${ROOT_INO} is not a directory`);
  each(`SELECT name FROM entries WHERE ino = ${ROOT_INO}`, (r) => `root inode has an entry named ${JSON.stringify(r.name)}`);

  // Entries.
  each(
    `SELECT e.parent, e.name, e.ino FROM entries e LEFT JOIN inodes i ON i.ino = e.ino WHERE i.ino IS NULL`,
    (r) => `entry ${r.parent}/${JSON.stringify(r.name)} points to missing inode ${r.ino}`,
  );
  each(
    `SELECT e.parent, e.name FROM entries e LEFT JOIN inodes p ON p.ino = e.parent
     WHERE p.ino IS NULL OR (p.mode & ${S_IFMT}) != ${S_IFDIR}`,
    (r) => `entry ${JSON.stringify(r.name)} is in ${r.parent}, which is not a live directory`,
  );

  // Link counts.
  each(
    `SELECT i.ino, i.nlink, (SELECT count(*) FROM entries e WHERE e.ino = i.ino) AS n
     FROM inodes i WHERE (i.mode & ${S_IFMT}) != ${S_IFDIR} AND i.nlink != n`,
    (r) => `inode ${r.ino}: nlink ${r.nlink} but ${r.n} entries`,
  );
  each(
    `SELECT i.ino, (SELECT count(*) FROM entries e WHERE e.ino = i.ino) AS n
     FROM inodes i WHERE ${DIR} AND n != (CASE WHEN i.ino = ${ROOT_INO} THEN 0 ELSE 1 END)`,
    (r) => `directory ${r.ino} has ${r.n} entries naming it`,
  );
  each(
    `SELECT i.ino, i.nlink, 2 + (SELECT count(*) FROM entries e JOIN inodes c ON c.ino = e.ino
       WHERE e.parent = i.ino AND (c.mode & ${S_IFMT}) = ${S_IFDIR}) AS want
     FROM inodes i WHERE ${DIR} AND i.nlink != want`,
    (r) => `directory ${r.ino}: nlink ${r.nlink}, expected ${r.want}`,
  );

  // Closure table: only directories, a self row each, under the root, and each directory's rows are
  // exactly its parent's rows one level deeper (which, with the self rows, makes it correct by induction).
  each(
    `SELECT c.ancestor, c.descendant FROM closure c
     WHERE NOT EXISTS (SELECT 1 FROM inodes i WHERE i.ino = c.ancestor AND ${DIR})
        OR NOT EXISTS (SELECT 1 FROM inodes i WHERE i.ino = c.descendant AND ${DIR})`,
    (r) => `closure row (${r.ancestor}, ${r.descendant}) names a missing inode or a non-directory`,
  );
  each(
    `SELECT ino FROM inodes i WHERE ${DIR}
     AND NOT EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = i.ino AND c.descendant = i.ino AND c.depth = 0)`,
    (r) => `directory ${r.ino} has no closure self row`,
  );
  each(
    `SELECT ino FROM inodes i WHERE ${DIR}
     AND NOT EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = ${ROOT_INO} AND c.descendant = i.ino)`,
    (r) => `directory ${r.ino} is not under the root in the closure table`,
  );
  each(
    `SELECT e.ino, cp.ancestor, cp.depth + 1 AS depth
     FROM entries e JOIN inodes i ON i.ino = e.ino AND (i.mode & ${S_IFMT}) = ${S_IFDIR}
     JOIN closure cp ON cp.descendant = e.parent
     WHERE NOT EXISTS (SELECT 1 FROM closure c WHERE c.ancestor = cp.ancestor AND c.descendant = e.ino
       AND c.depth = cp.depth + 1)`,
    (r) => `closure row (${r.ancestor}, ${r.ino}, depth ${r.depth}) missing`,
  );
  each(
    `SELECT c.ancestor, c.descendant, c.depth FROM closure c
     WHERE c.depth != 0 AND NOT EXISTS (
       SELECT 1 FROM entries e JOIN closure cp ON cp.descendant = e.parent
       WHERE e.ino = c.descendant AND cp.ancestor = c.ancestor AND cp.depth = c.depth - 1)`,
    (r) => `closure row (${r.ancestor}, ${r.descendant}, depth ${r.depth}) is dangling`,
  );
  each(
    `SELECT ancestor, descendant, depth FROM closure WHERE depth = 0 AND ancestor != descendant`,
    (r) => `closure row (${r.ancestor}, ${r.descendant}) has depth 0`,
  );

  // Symlinks and xattrs.
  each(
    `SELECT ino FROM inodes i WHERE (mode & ${S_IFMT}) = ${S_IFLNK}
     AND NOT EXISTS (SELECT 1 FROM symlinks s WHERE s.ino = i.ino)`,
    (r) => `symlink inode ${r.ino} has no target`,
  );
  each(
    `SELECT s.ino FROM symlinks s LEFT JOIN inodes i ON i.ino = s.ino
     WHERE i.ino IS NULL OR (i.mode & ${S_IFMT}) != ${S_IFLNK}`,
    (r) => `symlink target stored for inode ${r.ino}, which is not a live symlink`,
  );
  each(
    `SELECT DISTINCT x.ino FROM xattrs x LEFT JOIN inodes i ON i.ino = x.ino WHERE i.ino IS NULL`,
    (r) => `xattrs stored for missing inode ${r.ino}`,
  );

  // Slices and blocks.
  each(
    `SELECT DISTINCT s.ino FROM slices s LEFT JOIN inodes i ON i.ino = s.ino
     WHERE i.ino IS NULL OR (i.mode & ${S_IFMT}) != ${S_IFREG}`,
    (r) => `slices stored for inode ${r.ino}, which is not a live regular file`,
  );
  each(
    `SELECT i.ino, i.alloc, coalesce((SELECT sum(len) FROM slices s WHERE s.ino = i.ino), 0) AS bytes
     FROM inodes i WHERE i.alloc != bytes`,
    (r) => `inode ${r.ino}: alloc ${r.alloc} but its slices hold ${r.bytes} bytes`,
  );
  each(
    `SELECT s.ino, s.chunk, s.seq, s.block_id FROM slices s LEFT JOIN blocks b ON b.id = s.block_id
     WHERE b.id IS NULL`,
    (r) => `slice ${r.ino}/${r.chunk}/${r.seq} names unrecorded block ${r.block_id}`,
  );
  each(
    `SELECT s.ino, s.chunk, s.seq FROM slices s JOIN blocks b ON b.id = s.block_id
     WHERE s.len <= 0 OR s.chunk < 0 OR s.chunk_off < 0 OR s.block_off < 0
        OR s.chunk_off + s.len > ? OR s.block_off + s.len > b.size`,
    (r) => `slice ${r.ino}/${r.chunk}/${r.seq} has impossible offsets or length`,
    chunkSize,
  );
  each(
    `SELECT b.id, b.refs, (SELECT count(*) FROM slices s WHERE s.block_id = b.id) AS n
     FROM blocks b WHERE b.refs != n`,
    (r) => `block ${r.id}: refs ${r.refs} but ${r.n} slices`,
  );
  each(
    `SELECT id, refs FROM blocks WHERE (refs = 0) != (zero_since IS NOT NULL)`,
    (r) => `block ${r.id}: zero_since does not match refs ${r.refs}`,
  );

  // Informational.
  each(
    `SELECT ino, mode FROM inodes WHERE nlink = 0 ORDER BY ino`,
    (r) => `orphan: inode ${r.ino} has no links (awaiting purge)`,
  );
  return problems;
}
