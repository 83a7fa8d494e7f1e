import type pg from 'pg';
import { ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../MetaStore.js';
import { runText } from './pgClient.js';

const isDir = (a: string) => `(${a}mode & ${S_IFMT}) = ${S_IFDIR}`;

/**
 * Metadata-only consistency check of one schema (full scans, for fsck and tests): the same checks
 * and wording as the SQLite engine's. Runs in one REPEATABLE READ transaction, so it judges one
 * snapshot even while other servers write. Lines starting with "orphan:" are informational.
 */
export async function checkPostgresStore(pool: pg.Pool, schema: string, chunkSize: number): Promise<string[]> {
  const t = (name: string) => `"${schema}".${name}`;
  const inodes = t('inodes'), entries = t('entries'), closure = t('closure'), symlinks = t('symlinks');
  const xattrs = t('xattrs'), slices = t('slices'), blocks = t('blocks');
  const client = await pool.connect();
  const problems: string[] = [];
  const each = async (sql: string, describe: (row: any) => string, params: unknown[] = []) => {
    for (const row of await runText(client, sql, params)) problems.push(describe(row));
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if ((await runText(client, `SELECT 1 FROM ${t('schema_version')}`)).length === 0) {
      problems.push('schema_version missing');
    }
    const root = await runText<{ mode: number }>(client, `SELECT mode FROM ${inodes} WHERE ino = ${ROOT_INO}`);
    if (root.length === 0) problems.push(`root inode ${ROOT_INO} missing`);
    else if ((root[0].mode & S_IFMT) !== S_IFDIR) problems.push(`root inode ${ROOT_INO} is not a directory`);
    await each(`SELECT name FROM ${entries} WHERE ino = ${ROOT_INO}`, (r) => `root inode has an entry named ${JSON.stringify(r.name)}`);

    // Entries.
    await each(
      `SELECT e.parent, e.name, e.ino FROM ${entries} e LEFT JOIN ${inodes} i ON i.ino = e.ino WHERE i.ino IS NULL`,
      (r) => `entry ${r.parent}/${JSON.stringify(r.name)} points to missing inode ${r.ino}`,
    );
    await each(
      `SELECT e.parent, e.name FROM ${entries} e LEFT JOIN ${inodes} p ON p.ino = e.parent
       WHERE p.ino IS NULL OR NOT ${isDir('p.')}`,
      (r) => `entry ${JSON.stringify(r.name)} is in ${r.parent}, which is not a live directory`,
    );

    // Link counts.
    await each(
      `SELECT * FROM (SELECT i.ino, i.nlink, (SELECT count(*) FROM ${entries} e WHERE e.ino = i.ino) AS n
       FROM ${inodes} i WHERE NOT ${isDir('i.')}) x WHERE nlink <> n`,
      (r) => `inode ${r.ino}: nlink ${r.nlink} but ${r.n} entries`,
    );
    await each(
      `SELECT * FROM (SELECT i.ino, (SELECT count(*) FROM ${entries} e WHERE e.ino = i.ino) AS n
       FROM ${inodes} i WHERE ${isDir('i.')}) x WHERE n <> (CASE WHEN ino = ${ROOT_INO} THEN 0 ELSE 1 END)`,
      (r) => `directory ${r.ino} has ${r.n} entries naming it`,
    );
    await each(
      `SELECT * FROM (SELECT i.ino, i.nlink, 2 + (SELECT count(*) FROM ${entries} e JOIN ${inodes} c ON c.ino = e.ino
         WHERE e.parent = i.ino AND ${isDir('c.')}) AS want
       FROM ${inodes} i WHERE ${isDir('i.')}) x WHERE nlink <> want`,
      (r) => `directory ${r.ino}: nlink ${r.nlink}, expected ${r.want}`,
    );

    // Closure table (see the SQLite engine's check for why these rows make it correct by induction).
    await each(
      `SELECT c.ancestor, c.descendant FROM ${closure} c
       WHERE NOT EXISTS (SELECT 1 FROM ${inodes} i WHERE i.ino = c.ancestor AND ${isDir('i.')})
          OR NOT EXISTS (SELECT 1 FROM ${inodes} i WHERE i.ino = c.descendant AND ${isDir('i.')})`,
      (r) => `closure row (${r.ancestor}, ${r.descendant}) names a missing inode or a non-directory`,
    );
    await each(
      `SELECT ino FROM ${inodes} i WHERE ${isDir('i.')}
       AND NOT EXISTS (SELECT 1 FROM ${closure} c WHERE c.ancestor = i.ino AND c.descendant = i.ino AND c.depth = 0)`,
      (r) => `directory ${r.ino} has no closure self row`,
    );
    await each(
      `SELECT ino FROM ${inodes} i WHERE ${isDir('i.')}
       AND NOT EXISTS (SELECT 1 FROM ${closure} c WHERE c.ancestor = ${ROOT_INO} AND c.descendant = i.ino)`,
      (r) => `directory ${r.ino} is not under the root in the closure table`,
    );
    await each(
      `SELECT e.ino, cp.ancestor, cp.depth + 1 AS depth
       FROM ${entries} e JOIN ${inodes} i ON i.ino = e.ino AND ${isDir('i.')}
       JOIN ${closure} cp ON cp.descendant = e.parent
       WHERE NOT EXISTS (SELECT 1 FROM ${closure} c WHERE c.ancestor = cp.ancestor AND c.descendant = e.ino
         AND c.depth = cp.depth + 1)`,
      (r) => `closure row (${r.ancestor}, ${r.ino}, depth ${r.depth}) missing`,
    );
    await each(
      `SELECT c.ancestor, c.descendant, c.depth FROM ${closure} c
       WHERE c.depth <> 0 AND NOT EXISTS (
         SELECT 1 FROM ${entries} e JOIN ${closure} cp ON cp.descendant = e.parent
         WHERE e.ino = c.descendant AND cp.ancestor = c.ancestor AND cp.depth = c.depth - 1)`,
      (r) => `closure row (${r.ancestor}, ${r.descendant}, depth ${r.depth}) is dangling`,
    );
    await each(
      `SELECT ancestor, descendant, depth FROM ${closure} WHERE depth = 0 AND ancestor <> descendant`,
      (r) => `closure row (${r.ancestor}, ${r.descendant}) has depth 0`,
    );

    // Symlinks and xattrs.
    await each(
      `SELECT ino FROM ${inodes} i WHERE (mode & ${S_IFMT}) = ${S_IFLNK}
       AND NOT EXISTS (SELECT 1 FROM ${symlinks} s WHERE s.ino = i.ino)`,
      (r) => `symlink inode ${r.ino} has no target`,
    );
    await each(
      `SELECT s.ino FROM ${symlinks} s LEFT JOIN ${inodes} i ON i.ino = s.ino
       WHERE i.ino IS NULL OR (i.mode & ${S_IFMT}) <> ${S_IFLNK}`,
      (r) => `symlink target stored for inode ${r.ino}, which is not a live symlink`,
    );
    await each(
      `SELECT DISTINCT x.ino FROM ${xattrs} x LEFT JOIN ${inodes} i ON i.ino = x.ino WHERE i.ino IS NULL`,
      (r) => `xattrs stored for missing inode ${r.ino}`,
    );

    // Slices and blocks.
    await each(
      `SELECT DISTINCT s.ino FROM ${slices} s LEFT JOIN ${inodes} i ON i.ino = s.ino
       WHERE i.ino IS NULL OR (i.mode & ${S_IFMT}) <> ${S_IFREG}`,
      (r) => `slices stored for inode ${r.ino}, which is not a live regular file`,
    );
    await each(
      `SELECT * FROM (SELECT i.ino, i.alloc, coalesce((SELECT sum(len) FROM ${slices} s WHERE s.ino = i.ino), 0) AS bytes
       FROM ${inodes} i) x WHERE alloc <> bytes`,
      (r) => `inode ${r.ino}: alloc ${r.alloc} but its slices hold ${r.bytes} bytes`,
    );
    await each(
      `SELECT s.ino, s.chunk, s.seq, s.block_id FROM ${slices} s LEFT JOIN ${blocks} b ON b.id = s.block_id
       WHERE b.id IS NULL`,
      (r) => `slice ${r.ino}/${r.chunk}/${r.seq} names unrecorded block ${r.block_id}`,
    );
    await each(
      `SELECT s.ino, s.chunk, s.seq FROM ${slices} s JOIN ${blocks} b ON b.id = s.block_id
       WHERE s.len <= 0 OR s.chunk < 0 OR s.chunk_off < 0 OR s.block_off < 0
          OR s.chunk_off + s.len > $1 OR s.block_off + s.len > b.size`,
      (r) => `slice ${r.ino}/${r.chunk}/${r.seq} has impossible offsets or length`,
      [chunkSize],
    );
    await each(
      `SELECT * FROM (SELECT b.id, b.refs, (SELECT count(*) FROM ${slices} s WHERE s.block_id = b.id) AS n
       FROM ${blocks} b) x WHERE refs <> n`,
      (r) => `block ${r.id}: refs ${r.refs} but ${r.n} slices`,
    );
    await each(
      `SELECT id, refs FROM ${blocks} WHERE (refs = 0) <> (zero_since IS NOT NULL)`,
      (r) => `block ${r.id}: zero_since does not match refs ${r.refs}`,
    );

    // Informational.
    await each(
      `SELECT ino, mode FROM ${inodes} WHERE nlink = 0 ORDER BY ino`,
      (r) => `orphan: inode ${r.ino} has no links (awaiting purge)`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return problems;
}
