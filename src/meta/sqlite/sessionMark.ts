import type Database from 'better-sqlite3';

/** Settings key: '1' while a store has the file open, '0' after a clean close(). */
export const SETTING_OPEN = 'open_session';
/**
 * Inode numbers skipped after an unclean end. Far more than one group-commit window can create,
 * so an inode number handed out in a window that a crash lost is never given to another file.
 */
export const INO_GAP_AFTER_CRASH = 1 << 20;

/**
 * Mark the store open (committed at once). If the previous session never closed cleanly, its last
 * group-commit window may have handed out inode numbers that the crash then lost; a client that
 * outlived the crash (server mode) may still hold them. AUTOINCREMENT alone would give them out
 * again, so skip well past them: a stale number then names nothing (ENOENT), never another file.
 * Returns whether the previous session ended uncleanly.
 */
export function markSessionOpen(db: Database.Database): boolean {
  return db.transaction(() => {
    const unclean = db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(SETTING_OPEN) === '1';
    if (unclean) {
      db.prepare(`UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'inodes'`).run(INO_GAP_AFTER_CRASH);
    }
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(SETTING_OPEN, '1');
    return unclean;
  }).immediate();
}

/** Run inside the last transaction before close: the session ended cleanly. */
export function markSessionClosed(db: Database.Database): void {
  db.prepare('UPDATE settings SET value = ? WHERE key = ?').run('0', SETTING_OPEN);
}
