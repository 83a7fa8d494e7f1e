import type Database from 'better-sqlite3';
import { INODE_COLUMNS } from './rows.js';

const inodeColumns = (alias: string) => INODE_COLUMNS.map((c) => `${alias}${c}`).join(', ');

/** Every statement the store runs on its hot paths, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    // settings
    getSetting: p('SELECT value FROM settings WHERE key = ?'),
    setSetting: p('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),

    // inodes
    /** Raw: read through inodeRow() (rows.ts). */
    getInode: p(`SELECT ${inodeColumns('')} FROM inodes WHERE ino = ?`).raw(true),
    getMode: p('SELECT mode FROM inodes WHERE ino = ?').pluck(),
    /** Raw [mode, nlink]: what namespace checks need of a parent or a purged inode. */
    getModeNlink: p('SELECT mode, nlink FROM inodes WHERE ino = ?').raw(true),
    insertInode: p(`INSERT INTO inodes (ino, mode, uid, gid, size, nlink, rdev,
        atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, crtime_s, crtime_ns)
      VALUES (@ino, @mode, @uid, @gid, @size, @nlink, @rdev,
        @s, @ns, @s, @ns, @s, @ns, @s, @ns)`),
    updateAttr: p(`UPDATE inodes SET mode = @mode, uid = @uid, gid = @gid,
        atime_s = @atime_s, atime_ns = @atime_ns, mtime_s = @mtime_s, mtime_ns = @mtime_ns,
        ctime_s = @ctime_s, ctime_ns = @ctime_ns WHERE ino = @ino`),
    /** nlink += delta and ctime = now (the inode itself changed). */
    bumpNlinkCtime: p('UPDATE inodes SET nlink = nlink + ?, ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
    /** A directory's contents changed: nlink += delta, mtime = ctime = now. */
    touchDir: p(`UPDATE inodes SET nlink = nlink + @delta, mtime_s = @s, mtime_ns = @ns, ctime_s = @s, ctime_ns = @ns
      WHERE ino = @ino`),
    addAlloc: p('UPDATE inodes SET alloc = alloc + ? WHERE ino = ?'),
    setCtime: p('UPDATE inodes SET ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
    setSizeTimes: p(`UPDATE inodes SET size = @size, mtime_s = @s, mtime_ns = @ns, ctime_s = @s, ctime_ns = @ns
      WHERE ino = @ino`),
    /** A write's commit: size, alloc delta and times in one statement. */
    setSizeAllocTimes: p(`UPDATE inodes SET size = @size, alloc = alloc + @alloc,
        mtime_s = @s, mtime_ns = @ns, ctime_s = @cs, ctime_ns = @cns
      WHERE ino = @ino`),
    deleteInode: p('DELETE FROM inodes WHERE ino = ?'),
    orphans: p('SELECT ino FROM inodes WHERE nlink = 0 ORDER BY ino'),

    // entries
    /** Raw: read through inodeRow() (rows.ts). */
    lookup: p(`SELECT ${inodeColumns('i.')} FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = ? AND e.name = ?`).raw(true),
    entryExists: p('SELECT 1 FROM entries WHERE parent = ? AND name = ?').pluck(),
    /** Raw [ino, mode, nlink] of a named child: what unlink needs, without the whole row. */
    lookupBrief: p(`SELECT i.ino, i.mode, i.nlink FROM entries e JOIN inodes i ON i.ino = e.ino
      WHERE e.parent = ? AND e.name = ?`).raw(true),
    insertEntry: p('INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?)'),
    deleteEntry: p('DELETE FROM entries WHERE parent = ? AND name = ?'),
    moveEntry: p('UPDATE entries SET parent = ?, name = ? WHERE parent = ? AND name = ?'),
    setEntryIno: p('UPDATE entries SET ino = ? WHERE parent = ? AND name = ?'),
    hasChildren: p('SELECT 1 FROM entries WHERE parent = ? LIMIT 1'),
    oneEntryOf: p('SELECT parent, name FROM entries WHERE ino = ? LIMIT 1'),
    readdir: p(`SELECT e.name, e.ino, i.mode FROM entries e JOIN inodes i ON i.ino = e.ino
      WHERE e.parent = ? AND e.name > ? ORDER BY e.name LIMIT ?`),
    /** Raw: the inode columns (inodeRow(), rows.ts), then the name at index INODE_COLUMNS.length. */
    readdirAttrs: p(`SELECT ${inodeColumns('i.')}, e.name FROM entries e JOIN inodes i ON i.ino = e.ino
      WHERE e.parent = ? AND e.name > ? ORDER BY e.name LIMIT ?`).raw(true),

    // closure (directories only)
    closureSelf: p('INSERT INTO closure (ancestor, descendant, depth) VALUES (@dir, @dir, 0)'),
    closureInherit: p(`INSERT INTO closure (ancestor, descendant, depth)
      SELECT ancestor, @dir, depth + 1 FROM closure WHERE descendant = @parent`),
    closureDeleteDir: p('DELETE FROM closure WHERE descendant = ?'),
    closureHas: p('SELECT 1 FROM closure WHERE ancestor = ? AND descendant = ?'),
    // CROSS JOIN pins the order: from the file's few entries to one closure probe each.
    closureViaParents: p(`SELECT 1 FROM entries e CROSS JOIN closure c ON c.descendant = e.parent
      WHERE e.ino = ? AND c.ancestor = ? LIMIT 1`),
    /** Cut a subtree loose: forget every link between its members and the subtree root's proper ancestors. */
    closureDetach: p(`DELETE FROM closure
      WHERE descendant IN (SELECT descendant FROM closure WHERE ancestor = @dir)
        AND ancestor IN (SELECT ancestor FROM closure WHERE descendant = @dir AND depth > 0)`),
    /** Hang a detached subtree (root @dir) under directory @parent. */
    closureAttach: p(`INSERT INTO closure (ancestor, descendant, depth)
      SELECT a.ancestor, d.descendant, a.depth + d.depth + 1
      FROM closure a JOIN closure d WHERE a.descendant = @parent AND d.ancestor = @dir`),

    // symlinks
    insertSymlink: p('INSERT INTO symlinks (ino, target) VALUES (?, ?)'),
    getSymlink: p('SELECT target FROM symlinks WHERE ino = ?'),
    deleteSymlink: p('DELETE FROM symlinks WHERE ino = ?'),

    // xattrs
    getXattr: p('SELECT value FROM xattrs WHERE ino = ? AND name = ?'),
    putXattr: p('INSERT INTO xattrs (ino, name, value) VALUES (?, ?, ?) ON CONFLICT(ino, name) DO UPDATE SET value = excluded.value'),
    deleteXattr: p('DELETE FROM xattrs WHERE ino = ? AND name = ?'),
    listXattrs: p('SELECT name FROM xattrs WHERE ino = ? ORDER BY name'),
    deleteXattrsOf: p('DELETE FROM xattrs WHERE ino = ?'),

    // slices
    readChunks: p(`SELECT chunk, chunk_off, len, block_id, block_off FROM slices
      WHERE ino = ? AND chunk BETWEEN ? AND ? ORDER BY chunk, seq`),
    nextSeq: p('SELECT coalesce(max(seq) + 1, 0) AS seq FROM slices WHERE ino = ? AND chunk = ?'),
    insertSlice: p(`INSERT INTO slices (ino, chunk, seq, chunk_off, len, block_id, block_off)
      VALUES (?, ?, ?, ?, ?, ?, ?)`),
    countChunk: p('SELECT count(*) AS n FROM slices WHERE ino = ? AND chunk = ?'),
    chunkBlocks: p('SELECT block_id, count(*) AS n, sum(len) AS bytes FROM slices WHERE ino = ? AND chunk = ? GROUP BY block_id'),
    deleteChunk: p('DELETE FROM slices WHERE ino = ? AND chunk = ?'),
    /** Raw [block_id, len] of every slice from a chunk on (grouped by block in JS: no sorter for the usual 1-2 rows). */
    slicesFromChunk: p('SELECT block_id, len FROM slices WHERE ino = ? AND chunk >= ?').raw(true),
    deleteFromChunk: p('DELETE FROM slices WHERE ino = ? AND chunk >= ?'),
    /** Slices of one chunk that reach past a given offset inside it. */
    slicesCrossing: p(`SELECT seq, chunk_off, len, block_id FROM slices
      WHERE ino = ? AND chunk = ? AND chunk_off + len > ?`),
    deleteSlice: p('DELETE FROM slices WHERE ino = ? AND chunk = ? AND seq = ?'),
    setSliceLen: p('UPDATE slices SET len = ? WHERE ino = ? AND chunk = ? AND seq = ?'),
    inodesUsingBlock: p('SELECT DISTINCT ino FROM slices WHERE block_id = ? ORDER BY ino'),

    // blocks
    insertBlock: p(`INSERT INTO blocks (id, size, stored_size, refs, zero_since) VALUES (?, ?, ?, 0, ?)
      ON CONFLICT(id) DO NOTHING`),
    /** One more ref, only if the block is recorded and holds at least @end bytes. */
    addRef: p('UPDATE blocks SET refs = refs + 1, zero_since = NULL WHERE id = @id AND size >= @end'),
    dropRefs: p(`UPDATE blocks SET refs = refs - @n,
        zero_since = CASE WHEN refs - @n = 0 THEN @stamp ELSE zero_since END
      WHERE id = @id`),
    getBlock: p('SELECT id, size, stored_size, refs FROM blocks WHERE id = ?'),
    unreferencedBlocks: p(`SELECT id FROM blocks WHERE zero_since IS NOT NULL AND zero_since <= ?
      ORDER BY zero_since, id LIMIT ?`),
    forgetBlock: p('DELETE FROM blocks WHERE id = ? AND refs = 0'),
    listBlocks: p('SELECT id, size, stored_size, refs FROM blocks WHERE id > ? ORDER BY id LIMIT ?'),

    // stats
    statsInodes: p(`SELECT count(*) AS inodes,
        coalesce(sum(CASE WHEN (mode & 61440) = 32768 THEN size ELSE 0 END), 0) AS logical FROM inodes`),
    statsSlices: p('SELECT coalesce(sum(len), 0) AS referenced FROM slices'),
    statsBlocks: p(`SELECT count(*) AS blocks, coalesce(sum(size), 0) AS bytes,
        coalesce(sum(stored_size), 0) AS stored FROM blocks`),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
