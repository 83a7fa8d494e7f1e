import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { BlockInfo } from '../BlockStore.js';

/** Where a block lives on Discord: ids only, never a (expiring) URL. */
export interface DiscordBlockRef {
  channelId: string;
  /** '' for an empty block, which is kept in the index only (there is nothing to upload). */
  messageId: string;
  attachmentId: string;
  size: number;
  mtimeMs: number;
}

/**
 * The block index: block id -> (channel, message, attachment, size), per namespace, in SQLite
 * (WAL, synchronous=NORMAL; sync() checkpoints, which fsyncs the WAL and the database).
 */
export class DiscordIndex {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string, private readonly ns: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS discord_blocks (
      ns TEXT NOT NULL, id TEXT NOT NULL, channel_id TEXT NOT NULL, message_id TEXT NOT NULL,
      attachment_id TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms INTEGER NOT NULL,
      PRIMARY KEY (ns, id)) WITHOUT ROWID`);
    this.stmts = {
      get: this.db.prepare<[string, string], { channel_id: string; message_id: string; attachment_id: string; size: number; mtime_ms: number }>(
        'SELECT channel_id, message_id, attachment_id, size, mtime_ms FROM discord_blocks WHERE ns = ? AND id = ?',
      ),
      put: this.db.prepare('INSERT OR REPLACE INTO discord_blocks (ns, id, channel_id, message_id, attachment_id, size, mtime_ms) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      del: this.db.prepare('DELETE FROM discord_blocks WHERE ns = ? AND id = ? AND message_id = ?'),
      list: this.db.prepare<[string], { id: string; size: number; mtime_ms: number }>('SELECT id, size, mtime_ms FROM discord_blocks WHERE ns = ?'),
    };
  }

  get(id: string): DiscordBlockRef | undefined {
    const r = this.stmts.get.get(this.ns, id);
    return r && { channelId: r.channel_id, messageId: r.message_id, attachmentId: r.attachment_id, size: r.size, mtimeMs: r.mtime_ms };
  }

  put(id: string, ref: DiscordBlockRef): void {
    this.stmts.put.run(this.ns, id, ref.channelId, ref.messageId, ref.attachmentId, ref.size, ref.mtimeMs);
  }

  /** Remove the row if it still names this message (a concurrent re-put keeps its new row). */
  delete(id: string, messageId: string): void {
    this.stmts.del.run(this.ns, id, messageId);
  }

  *list(): Iterable<BlockInfo> {
    for (const r of this.stmts.list.iterate(this.ns)) yield { id: r.id, size: r.size, mtimeMs: r.mtime_ms };
  }

  sync(): void {
    this.db.pragma('wal_checkpoint(FULL)');
  }

  close(): void {
    this.db.close();
  }
}
