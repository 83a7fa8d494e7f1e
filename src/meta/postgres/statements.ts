import { createHash } from 'node:crypto';
import { S_IFDIR, S_IFMT, S_IFREG } from '../MetaStore.js';
import { INODE_COLUMNS } from '../sqlite/rows.js';
import type { Stmt } from './pgClient.js';

const cols = (alias: string) => INODE_COLUMNS.map((c) => `${alias}${c}`).join(', ');

/**
 * Every statement of one store, schema-qualified, as named statements (node-postgres prepares each
 * once per connection). Names carry a short hash of the schema: two stores on one pool never clash.
 */
export function metaStatements(schema: string) {
  const tag = createHash('sha1').update(schema).digest('hex').slice(0, 12);
  const t = (name: string) => `"${schema}".${name}`;
  const inodes = t('inodes'), entries = t('entries'), closure = t('closure'), symlinks = t('symlinks');
  const xattrs = t('xattrs'), slices = t('slices'), blocks = t('blocks'), settings = t('settings');
  const texts = {
    // settings
    getSetting: `SELECT value FROM ${settings} WHERE key = $1`,
    setSetting: `INSERT INTO ${settings} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    addSetting: `INSERT INTO ${settings} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,

    // inodes
    getInode: `SELECT ${cols('')} FROM ${inodes} WHERE ino = $1`,
    getMode: `SELECT mode FROM ${inodes} WHERE ino = $1`,
    /** $1 mode, $2 uid, $3 gid, $4 sec, $5 nsec. Root and its closure self row, if absent. */
    initRoot: `WITH i AS (
        INSERT INTO ${inodes} (ino, mode, uid, gid, size, nlink, rdev,
          atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, crtime_s, crtime_ns)
        VALUES (1, $1, $2, $3, 0, 2, 0, $4, $5, $4, $5, $4, $5, $4, $5)
        ON CONFLICT (ino) DO NOTHING RETURNING ino)
      INSERT INTO ${closure} (ancestor, descendant, depth) SELECT ino, ino, 0 FROM i`,
    /** Parent's mode/nlink and whether `name` is taken in it: $1 parent, $2 name. */
    createProbe: `SELECT p.mode, p.nlink,
        EXISTS (SELECT 1 FROM ${entries} e WHERE e.parent = $1 AND e.name = $2) AS taken
      FROM ${inodes} p WHERE p.ino = $1`,
    /**
     * The whole create in one statement: inode, entry, closure rows (directories), symlink target,
     * parent's times and nlink. $1 parent, $2 name, $3 mode, $4 uid, $5 gid, $6 size, $7 nlink,
     * $8 rdev, $9 sec, $10 nsec, $11 isDir, $12 symlink target or NULL.
     */
    createNode: `WITH i AS (
        INSERT INTO ${inodes} (mode, uid, gid, size, nlink, rdev,
          atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, crtime_s, crtime_ns)
        VALUES ($3, $4, $5, $6, $7, $8, $9, $10, $9, $10, $9, $10, $9, $10) RETURNING ino),
      e AS (INSERT INTO ${entries} (parent, name, ino) SELECT $1, $2, ino FROM i),
      c AS (INSERT INTO ${closure} (ancestor, descendant, depth)
        SELECT i.ino, i.ino, 0 FROM i WHERE $11::boolean
        UNION ALL SELECT c.ancestor, i.ino, c.depth + 1 FROM ${closure} c, i WHERE $11::boolean AND c.descendant = $1),
      s AS (INSERT INTO ${symlinks} (ino, target) SELECT ino, $12::text FROM i WHERE $12::text IS NOT NULL),
      p AS (UPDATE ${inodes} SET nlink = nlink + CASE WHEN $11::boolean THEN 1 ELSE 0 END,
          mtime_s = $9, mtime_ns = $10, ctime_s = $9, ctime_ns = $10 WHERE ino = $1)
      SELECT ino FROM i`,
    /**
     * The whole link in one statement (run as one serializable transaction): $1 ino, $2 new parent,
     * $3 name, $4/$5 now, $6 LINK_MAX. Returns the errno decided (OK when linked) and the inode's
     * row as it was before. Checks in the SQLite engine's order.
     */
    linkOne: `WITH n AS (SELECT ${cols('')} FROM ${inodes} WHERE ino = $1),
      p AS (SELECT mode FROM ${inodes} WHERE ino = $2),
      st AS (SELECT CASE
          WHEN NOT EXISTS (SELECT 1 FROM n) OR (SELECT nlink FROM n) = 0 THEN 'ENOENT'
          WHEN NOT EXISTS (SELECT 1 FROM p) THEN 'ENOENT'
          WHEN ((SELECT mode FROM p) & ${S_IFMT}) <> ${S_IFDIR} THEN 'ENOTDIR'
          WHEN EXISTS (SELECT 1 FROM ${entries} WHERE parent = $2 AND name = $3) THEN 'EEXIST'
          WHEN ((SELECT mode FROM n) & ${S_IFMT}) = ${S_IFDIR} THEN 'EPERM'
          WHEN (SELECT nlink FROM n) >= $6 THEN 'EMLINK'
          ELSE 'OK' END AS code),
      e AS (INSERT INTO ${entries} (parent, name, ino) SELECT $2, $3, $1 FROM st WHERE code = 'OK'),
      u AS (UPDATE ${inodes} SET nlink = nlink + 1, ctime_s = $4, ctime_ns = $5
        WHERE ino = $1 AND (SELECT code FROM st) = 'OK'),
      t AS (UPDATE ${inodes} SET mtime_s = $4, mtime_ns = $5, ctime_s = $4, ctime_ns = $5
        WHERE ino = $2 AND (SELECT code FROM st) = 'OK')
      SELECT st.code, n.* FROM st LEFT JOIN n ON true`,
    /** nlink += $1 and ctime = ($2, $3) of inode $4, returning the row. */
    bumpNlinkCtime: `UPDATE ${inodes} SET nlink = nlink + $1, ctime_s = $2, ctime_ns = $3 WHERE ino = $4`,
    /** A directory's contents changed: nlink += $1, mtime = ctime = ($2, $3) for inode $4. */
    touchDir: `UPDATE ${inodes} SET nlink = nlink + $1, mtime_s = $2, mtime_ns = $3, ctime_s = $2, ctime_ns = $3
      WHERE ino = $4`,
    setCtime: `UPDATE ${inodes} SET ctime_s = $1, ctime_ns = $2 WHERE ino = $3`,
    /**
     * setattr in one statement: $1 ino; $2 permission bits, $3 uid, $4 gid, $5/$6 atime, $7/$8 mtime
     * (NULL: unchanged); $9/$10 ctime. The file type bits never change.
     */
    setattr: `UPDATE ${inodes} SET
        mode = CASE WHEN $2::int IS NULL THEN mode ELSE (mode & ${S_IFMT}) | ($2::int & ~${S_IFMT}) END,
        uid = coalesce($3::bigint, uid), gid = coalesce($4::bigint, gid),
        atime_s = coalesce($5::bigint, atime_s), atime_ns = coalesce($6::int, atime_ns),
        mtime_s = coalesce($7::bigint, mtime_s), mtime_ns = coalesce($8::int, mtime_ns),
        ctime_s = $9, ctime_ns = $10
      WHERE ino = $1 RETURNING ${cols('')}`,
    /** size = $2 (or max(size, $2) when $5), alloc += $6, mtime = ($3, $4), ctime = ($7, $8), only for a regular file. */
    setSizeTimes: `UPDATE ${inodes} SET size = CASE WHEN $5::boolean THEN greatest(size, $2) ELSE $2 END,
        alloc = alloc + $6, mtime_s = $3, mtime_ns = $4, ctime_s = $7, ctime_ns = $8
      WHERE ino = $1 AND (mode & ${S_IFMT}) = ${S_IFREG}
      RETURNING ${cols('')}`,
    addAlloc: `UPDATE ${inodes} SET alloc = alloc + $1 WHERE ino = $2`,
    deleteInode: `DELETE FROM ${inodes} WHERE ino = $1`,
    orphans: `SELECT ino FROM ${inodes} WHERE nlink = 0 ORDER BY ino`,

    // entries
    /** Parent's mode (no row: parent missing) and the child's inode row (ino NULL: no such entry). */
    lookupIn: `SELECT p.mode AS pmode, ${cols('i.')} FROM ${inodes} p
      LEFT JOIN ${entries} e ON e.parent = p.ino AND e.name = $2
      LEFT JOIN ${inodes} i ON i.ino = e.ino WHERE p.ino = $1`,
    /** For rename: rows tagged p (parent), q (new parent), s (source), d (destination). */
    renameProbe: `SELECT 'p' AS k, ${cols('')} FROM ${inodes} WHERE ino = $1
      UNION ALL SELECT 'q', ${cols('')} FROM ${inodes} WHERE ino = $3
      UNION ALL SELECT 's', ${cols('i.')} FROM ${entries} e JOIN ${inodes} i ON i.ino = e.ino WHERE e.parent = $1 AND e.name = $2
      UNION ALL SELECT 'd', ${cols('i.')} FROM ${entries} e JOIN ${inodes} i ON i.ino = e.ino WHERE e.parent = $3 AND e.name = $4`,
    entryExists: `SELECT 1 FROM ${entries} WHERE parent = $1 AND name = $2`,
    insertEntry: `INSERT INTO ${entries} (parent, name, ino) VALUES ($1, $2, $3)`,
    deleteEntry: `DELETE FROM ${entries} WHERE parent = $1 AND name = $2`,
    moveEntry: `UPDATE ${entries} SET parent = $1, name = $2 WHERE parent = $3 AND name = $4`,
    setEntryIno: `UPDATE ${entries} SET ino = $1 WHERE parent = $2 AND name = $3`,
    hasChildren: `SELECT 1 FROM ${entries} WHERE parent = $1 LIMIT 1`,
    oneEntryOf: `SELECT parent, name FROM ${entries} WHERE ino = $1 LIMIT 1`,
    /** The names on the way up from inode $1 to the root, nearest first (one entry per level). */
    pathUp: `WITH RECURSIVE up(ino, parent, name, n) AS (
        SELECT e.ino, e.parent, e.name, 1 FROM (SELECT * FROM ${entries} WHERE ino = $1 LIMIT 1) e
        UNION ALL
        SELECT e.ino, e.parent, e.name, up.n + 1 FROM up
          CROSS JOIN LATERAL (SELECT * FROM ${entries} x WHERE x.ino = up.parent LIMIT 1) e
        WHERE up.parent <> 1 AND up.n < 100000)
      SELECT parent, name FROM up ORDER BY n`,
    readdir: `SELECT e.name, e.ino, i.mode FROM ${entries} e JOIN ${inodes} i ON i.ino = e.ino
      WHERE e.parent = $1 AND e.name > $2 ORDER BY e.name LIMIT $3`,
    readdirAttrs: `SELECT e.name, ${cols('i.')} FROM ${entries} e JOIN ${inodes} i ON i.ino = e.ino
      WHERE e.parent = $1 AND e.name > $2 ORDER BY e.name LIMIT $3`,

    // closure (directories only)
    closureDeleteDir: `DELETE FROM ${closure} WHERE descendant = $1`,
    closureHas: `SELECT 1 FROM ${closure} WHERE ancestor = $1 AND descendant = $2`,
    /** Is $2 an ancestor of $1 (a directory through the closure, or a file through its entries)? */
    isAncestor: `SELECT EXISTS (SELECT 1 FROM ${closure} WHERE ancestor = $2 AND descendant = $1)
      OR EXISTS (SELECT 1 FROM ${entries} e JOIN ${closure} c ON c.descendant = e.parent
        WHERE e.ino = $1 AND c.ancestor = $2) AS yes`,
    /** For rename: is the source ($1) an ancestor of the new parent ($2); is the target ($3) one of the old parent ($4)? */
    renameAncestry: `SELECT EXISTS (SELECT 1 FROM ${closure} WHERE ancestor = $1 AND descendant = $2) AS src_above,
      EXISTS (SELECT 1 FROM ${closure} WHERE ancestor = $3 AND descendant = $4) AS dst_above`,
    /** Cut a subtree loose from its root's proper ancestors. */
    closureDetach: `DELETE FROM ${closure}
      WHERE descendant IN (SELECT descendant FROM ${closure} WHERE ancestor = $1)
        AND ancestor IN (SELECT ancestor FROM ${closure} WHERE descendant = $1 AND depth > 0)`,
    /** Hang a detached subtree (root $1) under directory $2. */
    closureAttach: `INSERT INTO ${closure} (ancestor, descendant, depth)
      SELECT a.ancestor, d.descendant, a.depth + d.depth + 1
      FROM ${closure} a CROSS JOIN ${closure} d WHERE a.descendant = $2 AND d.ancestor = $1`,

    // symlinks
    /** Mode of inode $1 (no row: missing) and its symlink target (NULL: none). */
    readlink: `SELECT i.mode, s.target FROM ${inodes} i LEFT JOIN ${symlinks} s ON s.ino = i.ino WHERE i.ino = $1`,
    deleteSymlink: `DELETE FROM ${symlinks} WHERE ino = $1`,

    // xattrs
    /** Mode of the inode (no row: missing) and the xattr's value or NULL. */
    getXattrOf: `SELECT i.mode, x.value FROM ${inodes} i LEFT JOIN ${xattrs} x ON x.ino = i.ino AND x.name = $2
      WHERE i.ino = $1`,
    putXattr: `INSERT INTO ${xattrs} (ino, name, value) VALUES ($1, $2, $3)
      ON CONFLICT (ino, name) DO UPDATE SET value = EXCLUDED.value`,
    deleteXattr: `DELETE FROM ${xattrs} WHERE ino = $1 AND name = $2 RETURNING 1 AS gone`,
    listXattrs: `SELECT name FROM ${xattrs} WHERE ino = $1 ORDER BY name`,
    deleteXattrsOf: `DELETE FROM ${xattrs} WHERE ino = $1`,

    // slices
    readChunks: `SELECT chunk, chunk_off, len, block_id, block_off FROM ${slices}
      WHERE ino = $1 AND chunk BETWEEN $2 AND $3 ORDER BY chunk, seq`,
    /**
     * Append slices: $1 ino, then parallel arrays chunk, index-within-chunk, chunk_off, len, block_id,
     * block_off. Each chunk's new rows go after its existing ones.
     */
    appendSlices: `INSERT INTO ${slices} (ino, chunk, seq, chunk_off, len, block_id, block_off)
      SELECT $1, v.chunk, coalesce((SELECT max(s.seq) + 1 FROM ${slices} s WHERE s.ino = $1 AND s.chunk = v.chunk), 0) + v.k,
        v.off, v.len, v.id, v.boff
      FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[])
        AS v(chunk, k, off, len, id, boff)`,
    countChunk: `SELECT count(*) AS n FROM ${slices} WHERE ino = $1 AND chunk = $2`,
    /** Delete the slices of chunks >= $2 (or exactly chunk $2 when $3), drop their refs (zero_since = $4); returns bytes freed. */
    dropChunks: `WITH d AS (DELETE FROM ${slices} WHERE ino = $1 AND (chunk = $2 OR (NOT $3::boolean AND chunk > $2))
          RETURNING block_id, len),
        g AS (SELECT block_id, count(*) AS n, sum(len) AS bytes FROM d GROUP BY block_id),
        u AS (UPDATE ${blocks} b SET refs = b.refs - g.n,
            zero_since = CASE WHEN b.refs - g.n = 0 THEN $4 ELSE b.zero_since END
          FROM g WHERE b.id = g.block_id)
      SELECT coalesce(sum(bytes), 0) AS freed FROM g`,
    /** Slices of one chunk that reach past offset $3 inside it. */
    slicesCrossing: `SELECT seq, chunk_off, len, block_id FROM ${slices}
      WHERE ino = $1 AND chunk = $2 AND chunk_off + len > $3`,
    deleteSlice: `DELETE FROM ${slices} WHERE ino = $1 AND chunk = $2 AND seq = $3`,
    setSliceLen: `UPDATE ${slices} SET len = $1 WHERE ino = $2 AND chunk = $3 AND seq = $4`,
    inodesUsingBlock: `SELECT DISTINCT ino FROM ${slices} WHERE block_id = $1 ORDER BY ino`,

    // blocks
    /** Record blocks (parallel arrays id, size, stored_size) with refs 0 and zero_since $4, if absent. */
    insertBlocks: `INSERT INTO ${blocks} (id, size, stored_size, refs, zero_since)
      SELECT id, size, stored, 0, $4 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, size, stored)
      ON CONFLICT (id) DO NOTHING`,
    /** Add $2[k] refs to block $1[k] when it holds at least $3[k] bytes; returns the blocks updated. */
    addRefs: `UPDATE ${blocks} b SET refs = b.refs + v.n, zero_since = NULL
      FROM unnest($1::text[], $2::int[], $3::bigint[]) AS v(id, n, want)
      WHERE b.id = v.id AND b.size >= v.want RETURNING b.id`,
    /** Drop $2[k] refs of block $1[k]; zero_since = $3 for those reaching 0. */
    dropRefs: `UPDATE ${blocks} b SET refs = b.refs - v.n,
        zero_since = CASE WHEN b.refs - v.n = 0 THEN $3 ELSE b.zero_since END
      FROM unnest($1::text[], $2::int[]) AS v(id, n) WHERE b.id = v.id`,
    getBlock: `SELECT id, size, stored_size, refs FROM ${blocks} WHERE id = $1`,
    unreferencedBlocks: `SELECT id FROM ${blocks} WHERE zero_since IS NOT NULL AND zero_since <= $1
      ORDER BY zero_since, id LIMIT $2`,
    forgetBlocks: `DELETE FROM ${blocks} WHERE id = ANY($1::text[]) AND refs = 0 RETURNING id`,
    listBlocks: `SELECT id, size, stored_size, refs FROM ${blocks} WHERE id > $1 ORDER BY id LIMIT $2`,

    // stats
    stats: `SELECT
        (SELECT count(*) FROM ${inodes}) AS inodes,
        (SELECT coalesce(sum(size), 0) FROM ${inodes} WHERE (mode & ${S_IFMT}) = ${S_IFREG}) AS logical,
        (SELECT coalesce(sum(len), 0) FROM ${slices}) AS referenced,
        (SELECT count(*) FROM ${blocks}) AS blocks,
        (SELECT coalesce(sum(size), 0) FROM ${blocks}) AS bytes,
        (SELECT coalesce(sum(stored_size), 0) FROM ${blocks}) AS stored`,
  };
  const out = {} as { [K in keyof typeof texts]: Stmt };
  for (const [key, text] of Object.entries(texts)) {
    (out as Record<string, Stmt>)[key] = { name: `m${tag}_${key}`, text };
  }
  return out;
}

export type MetaStatements = ReturnType<typeof metaStatements>;
