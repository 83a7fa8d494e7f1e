import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockNotFoundError, FsError } from '../../errors.js';
import { KeyedMutex } from '../../util/mutex.js';
import type { DiscordStoreConfig } from '../../volume/config.js';
import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../BlockStore.js';
import type { StoreContext } from '../openBlockStore.js';
import { downloadAttachment } from './cdnDownload.js';
import { DEFAULT_DISCORD_API, DiscordApi, type DiscordApiOptions } from './DiscordApi.js';
import { DiscordIndex, type DiscordBlockRef } from './DiscordIndex.js';
import { SignedUrlCache } from './signedUrls.js';
import { loadDiscordTokens, tokenSource } from './tokens.js';

export interface DiscordStoreTuning extends DiscordApiOptions {
  /** Check tokens and channel access when opening (default true). */
  verifyAccess?: boolean;
  /** Environment to read tokens from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** CDN download attempts on transient errors (default 4). */
  downloadAttempts?: number;
}

const CDN_TIMEOUT_MS = 60_000;

/**
 * Blocks as Discord messages: one message per block with one attachment named by the block id, in a
 * channel chosen from the id (sharding), sent by the least busy bot token. The SQLite index maps
 * id -> (channel, message, attachment, size); it is the source of truth for has/list, and no URL is
 * ever stored in it: signed CDN URLs come from the upload's answer or a fresh fetch of the message,
 * are cached in memory until shortly before their `ex` expiry, and a CDN refusal (404/403) fetches
 * the message again and retries once. Ranges are read with HTTP Range requests on the CDN.
 *
 * Empty blocks have nothing to upload and live in the index only. A crash between an upload and its
 * index row leaves an orphan message that nothing references (it costs channel space only).
 */
export class DiscordBlockStore implements BlockStore {
  readonly name: string;
  private readonly urls = new SignedUrlCache();
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly locks = new KeyedMutex<string>();
  private closed = false;

  private constructor(
    private readonly channels: string[],
    private readonly api: DiscordApi,
    private readonly index: DiscordIndex,
    private readonly downloadAttempts: number,
  ) {
    this.name = `discord:${channels.length} channel${channels.length === 1 ? '' : 's'}, ${api.tokenCount} token${api.tokenCount === 1 ? '' : 's'}`;
  }

  static async open(cfg: DiscordStoreConfig, ctx: StoreContext, tuning: DiscordStoreTuning = {}): Promise<DiscordBlockStore> {
    if (!cfg.channels?.length || !cfg.channels.every((c) => /^\d{1,20}$/.test(c))) {
      throw new FsError('EINVAL', `Discord store needs one or more channel ids (snowflakes), got ${JSON.stringify(cfg.channels)}`);
    }
    const tokens = loadDiscordTokens(cfg, ctx.volumeDir, tuning.env);
    const api = new DiscordApi(tokens, cfg.apiBase ?? DEFAULT_DISCORD_API, tokenSource(cfg), tuning);
    try {
      if (tuning.verifyAccess ?? true) await api.verifyAccess(cfg.channels);
    } catch (err) {
      api.close();
      throw err;
    }
    const index = new DiscordIndex(path.resolve(ctx.volumeDir, cfg.indexPath), ctx.namespace ?? '');
    return new DiscordBlockStore([...cfg.channels], api, index, tuning.downloadAttempts ?? 4);
  }

  /** The channel a block goes to: its id's first 32 bits modulo the channel count. */
  channelFor(id: string): string {
    return this.channels[parseInt(id.slice(0, 8), 16) % this.channels.length]!;
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    this.assertOpen();
    assertBlockId(id);
    const copy = Buffer.from(data);
    await this.locks.run(id, async () => {
      if (this.index.get(id)) return;
      const mtimeMs = Date.now();
      if (copy.length === 0) {
        this.index.put(id, { channelId: '', messageId: '', attachmentId: '', size: 0, mtimeMs });
        return;
      }
      const channelId = this.channelFor(id);
      const up = await this.api.createMessage(channelId, id, copy);
      this.index.put(id, { channelId, messageId: up.messageId, attachmentId: up.attachmentId, size: up.size, mtimeMs });
      this.urls.set(id, up.url);
    });
  }

  async get(id: string): Promise<Buffer> {
    this.assertOpen();
    assertBlockId(id);
    const ref = this.refOf(id);
    return ref.size === 0 ? Buffer.alloc(0) : this.download(id, ref, 0, ref.size);
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    this.assertOpen();
    assertBlockId(id);
    assertByteRange(offset, length);
    const ref = this.refOf(id);
    const end = Math.min(ref.size, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    return this.download(id, ref, offset, end);
  }

  async has(id: string): Promise<boolean> {
    this.assertOpen();
    assertBlockId(id);
    return this.index.get(id) !== undefined;
  }

  async delete(id: string): Promise<void> {
    this.assertOpen();
    assertBlockId(id);
    await this.locks.run(id, async () => {
      const ref = this.index.get(id);
      if (!ref) return;
      if (ref.messageId) await this.api.deleteMessage(ref.channelId, ref.messageId);
      this.index.delete(id, ref.messageId);
      this.urls.delete(id);
    });
  }

  async *list(): AsyncIterable<BlockInfo> {
    this.assertOpen();
    const all = [...this.index.list()]; // a snapshot: callers may delete while iterating
    for (const info of all) yield info;
  }

  async sync(): Promise<void> {
    this.assertOpen();
    this.index.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.api.close();
    this.index.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new FsError('EIO', `${this.name} is closed`);
    this.api.assertUsable();
  }

  private refOf(id: string): DiscordBlockRef {
    const ref = this.index.get(id);
    if (!ref) throw new BlockNotFoundError(id);
    return ref;
  }

  /** Bytes [start, end) of a stored block from the CDN; a refused URL is re-signed once. */
  private async download(id: string, ref: DiscordBlockRef, start: number, end: number): Promise<Buffer> {
    let resigned = false;
    let failures = 0;
    for (;;) {
      const url = this.urls.get(id) ?? (await this.freshUrl(id, ref));
      const r = await downloadAttachment(url, ref.size, start, end, CDN_TIMEOUT_MS);
      if (r.kind === 'ok') return r.bytes;
      if (r.kind === 'refused') {
        this.urls.delete(id);
        if (resigned) throw new FsError('EIO', `Discord CDN refused a freshly signed URL for block ${id} (${r.status})`);
        resigned = true;
        continue;
      }
      if (++failures >= this.downloadAttempts) throw new FsError('EIO', `downloading block ${id} from the Discord CDN failed: ${r.detail}`);
      await sleep(100 * 2 ** failures);
      this.api.assertUsable();
    }
  }

  /** A freshly signed URL from the message; concurrent callers for one block share one fetch. */
  private freshUrl(id: string, ref: DiscordBlockRef): Promise<string> {
    let p = this.refreshing.get(id);
    if (!p) {
      p = (async () => {
        const att = await this.api.fetchAttachment(ref.channelId, ref.messageId, ref.attachmentId);
        if (!att) throw new BlockNotFoundError(id); // the message was deleted behind our back
        this.urls.set(id, att.url);
        return att.url;
      })().finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, p);
    }
    return p;
  }
}
