import { FsError } from '../errors.js';
import {
  ROOT_INO,
  type AttrChanges, type BlockRecord, type ChunkWrite, type DirPage, type InodeAttr, type MetaStats, type MetaStore,
  type NewBlock, type NewInode, type RenameResult, type Slice, type Timespec, type UnlinkResult,
} from '../meta/MetaStore.js';
import type { HttpClient } from './HttpClient.js';
import { PURGE_UNLINKED_HEADER, ROUTES, type MetaRequest, type MetaResponse, type RemoteMetaOp } from './protocol.js';
import { ProtocolError } from './remoteErrors.js';
import type { SmallBlockStash } from './SmallBlockStash.js';
import { decodeWire, encodeWire } from './wireCodec.js';

/**
 * Namespace changes whose second application differs from the first (a retried create answers
 * EEXIST, a retried unlink ENOENT...). They are resent only when the first attempt provably never
 * reached the server (see HttpRequest.idempotent). Everything else is safe to resend: reads; setattr
 * and truncate set absolute values; purgeInode of a purged inode is ENOENT, which callers accept;
 * replaceChunk is guarded by the expected slice count; and commitSlices appended twice leaves the
 * same bytes visible (the later copy of each slice hides the identical earlier one, refs stay equal
 * to the slice rows, compaction drops the duplicate), so uploads survive a server restart.
 */
const NOT_IDEMPOTENT = new Set<RemoteMetaOp>(['create', 'link', 'unlink', 'rmdir', 'rename', 'setxattr', 'removexattr']);

/** Small blocks put but not yet sent (RemoteBlockStore with a stash): commits carry them. */
export interface PendingBlocks {
  stash: SmallBlockStash;
  /** PUT these stashed blocks now. */
  flush(ids: string[]): Promise<void>;
}

/** MetaStore over POST /v1/meta: one call = one MetaStore call on the server, in the user's own namespace. */
export class RemoteMetaStore implements MetaStore {
  /** Whether an unlink may ask the server to purge the inode too (the session: nothing open here). */
  purgeWithUnlink: (() => boolean) | null = null;
  /** Inodes the server purged along with their unlink: their purgeInode needs no request. */
  readonly purgedWithUnlink = new Set<number>();

  constructor(private readonly http: HttpClient, private readonly pending?: PendingBlocks) {}

  /** The server creates and initialises each user's namespace; here we only check that it answers. */
  async init(_root: { mode: number; uid: number; gid: number; now: Timespec }): Promise<void> {
    await this.getattr(ROOT_INO);
  }

  /** Nothing remote to close: the session closes the HTTP client. */
  async close(): Promise<void> {}

  sync(): Promise<void> {
    return this.call('sync');
  }

  getSetting(key: string): Promise<string | null> {
    return this.call('getSetting', key);
  }

  setSetting(_key: string, _value: string): Promise<void> {
    return serverOnly('setSetting');
  }

  getattr(ino: number): Promise<InodeAttr> {
    return this.call('getattr', ino);
  }

  lookup(parent: number, name: string): Promise<InodeAttr | null> {
    return this.call('lookup', parent, name);
  }

  pathOf(ino: number): Promise<string | null> {
    return this.call('pathOf', ino);
  }

  isAncestor(ancestor: number, ino: number): Promise<boolean> {
    return this.call('isAncestor', ancestor, ino);
  }

  create(parent: number, name: string, node: NewInode): Promise<InodeAttr> {
    return this.call('create', parent, name, node);
  }

  link(ino: number, newParent: number, newName: string, now: Timespec): Promise<InodeAttr> {
    return this.call('link', ino, newParent, newName, now);
  }

  unlink(parent: number, name: string, now: Timespec): Promise<UnlinkResult> {
    return this.call('unlink', parent, name, now);
  }

  rmdir(parent: number, name: string, now: Timespec): Promise<void> {
    return this.call('rmdir', parent, name, now);
  }

  rename(parent: number, name: string, newParent: number, newName: string, flags: number, now: Timespec): Promise<RenameResult> {
    return this.call('rename', parent, name, newParent, newName, flags, now);
  }

  readlink(ino: number): Promise<string> {
    return this.call('readlink', ino);
  }

  /** Without attributes the call stays the 3-argument one every server version understands. */
  readdir(dir: number, cursor: string | null, limit: number, withAttrs?: boolean): Promise<DirPage> {
    return withAttrs ? this.call('readdir', dir, cursor, limit, true) : this.call('readdir', dir, cursor, limit);
  }

  setattr(ino: number, changes: AttrChanges): Promise<InodeAttr> {
    return this.call('setattr', ino, changes);
  }

  truncate(ino: number, size: number, now: Timespec): Promise<InodeAttr> {
    return this.call('truncate', ino, size, now);
  }

  listOrphans(): Promise<number[]> {
    return this.call('listOrphans');
  }

  purgeInode(ino: number): Promise<void> {
    if (this.purgedWithUnlink.delete(ino)) return Promise.resolve();
    return this.call('purgeInode', ino);
  }

  getxattr(ino: number, name: string): Promise<Buffer> {
    return this.call('getxattr', ino, name);
  }

  setxattr(ino: number, name: string, value: Buffer, flags: number, now: Timespec): Promise<void> {
    return this.call('setxattr', ino, name, value, flags, now);
  }

  listxattr(ino: number): Promise<string[]> {
    return this.call('listxattr', ino);
  }

  removexattr(ino: number, name: string, now: Timespec): Promise<void> {
    return this.call('removexattr', ino, name, now);
  }

  readChunks(ino: number, first: number, last: number): Promise<Map<number, Slice[]>> {
    return this.call('readChunks', ino, first, last);
  }

  /**
   * The stashed small blocks it references travel with it (one request instead of a PUT each and
   * the commit). A ctime other than mtime is a trailing argument; a server that predates it refuses
   * the call before doing anything, and then gets commits without it (ctime = mtime there) followed
   * by a setattr of the ctime: the same outcome in two requests instead of one.
   */
  async commitSlices(
    ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime?: Timespec,
  ): Promise<InodeAttr> {
    const ownCtime = ctime && (ctime.sec !== mtime.sec || ctime.nsec !== mtime.nsec) ? ctime : undefined;
    if (ownCtime && !this.commitCtimeRefused) {
      try {
        return await this.commitOnce(ino, writes, newBlocks, minSize, mtime, [ownCtime]);
      } catch (err) {
        if (!isArgumentCountRefusal(err)) throw err;
        this.commitCtimeRefused = true;
      }
    }
    const attr = await this.commitOnce(ino, writes, newBlocks, minSize, mtime, []);
    return ownCtime ? this.setattr(ino, { ctime: ownCtime }) : attr;
  }

  /** Set once the server refused commitSlices' ctime argument (it predates it). */
  private commitCtimeRefused = false;

  private async commitOnce(
    ino: number, writes: ChunkWrite[], newBlocks: NewBlock[], minSize: number, mtime: Timespec, ctime: Timespec[],
  ): Promise<InodeAttr> {
    const bodies = this.pending?.stash.pick(newBlocks.map((b) => b.id)) ?? [];
    if (bodies.length > 0 && !this.pending!.stash.disabled) {
      try {
        const attr = await this.call<InodeAttr>('commitSlicesWithBlocks', ino, writes, newBlocks, minSize, mtime, bodies, ...ctime);
        this.pending!.stash.stored(bodies.map((b) => b.id));
        return attr;
      } catch (err) {
        // A server that predates the op refused it before doing anything: PUT, then commit.
        if (!(err instanceof ProtocolError && err.status === 400 && /unknown meta op/.test(err.message))) throw err;
        this.pending!.stash.disabled = true;
      }
    }
    if (bodies.length > 0) await this.pending!.flush(bodies.map((b) => b.id));
    return this.call('commitSlices', ino, writes, newBlocks, minSize, mtime, ...ctime);
  }

  async replaceChunk(ino: number, chunk: number, expectedCount: number, slices: Slice[], newBlocks: NewBlock[]): Promise<boolean> {
    if (this.pending) await this.pending.flush(newBlocks.map((b) => b.id));
    return this.call('replaceChunk', ino, chunk, expectedCount, slices, newBlocks);
  }

  getBlock(id: string): Promise<BlockRecord | null> {
    return this.call('getBlock', id);
  }

  unreferencedBlocks(_olderThanMs: number, _limit: number): Promise<string[]> {
    return serverOnly('unreferencedBlocks');
  }

  forgetBlocks(_ids: string[]): Promise<string[]> {
    return serverOnly('forgetBlocks');
  }

  listBlocks(cursor: string | null, limit: number): Promise<{ blocks: BlockRecord[]; next: string | null }> {
    return this.call('listBlocks', cursor, limit);
  }

  inodesUsingBlock(id: string): Promise<number[]> {
    return this.call('inodesUsingBlock', id);
  }

  stats(): Promise<MetaStats> {
    return this.call('stats');
  }

  check(): Promise<string[]> {
    return serverOnly('check');
  }

  /**
   * A namespace change whose answer also carries the attributes, read right after it, of the
   * directories it changed and of an unlinked inode (empty from a server that predates them).
   */
  async changeWithAttrs<T>(op: RemoteMetaOp, args: unknown[]): Promise<{ result: T; attrs: InodeAttr[] }> {
    const res = await this.send(op, args, true);
    return { result: decodeWire(res?.result ?? null) as T, attrs: res?.attrs ? (decodeWire(res.attrs) as InodeAttr[]) : [] };
  }

  private async call<T>(op: RemoteMetaOp, ...args: unknown[]): Promise<T> {
    const res = await this.send(op, args, false);
    return decodeWire(res?.result ?? null) as T;
  }

  private send(op: RemoteMetaOp, args: unknown[], attrs: boolean): Promise<MetaResponse | null> {
    const body: MetaRequest = { op, args: encodeWire(args) as unknown[] };
    if (attrs) body.attrs = true;
    const headers = op === 'unlink' && this.purgeWithUnlink?.() ? { [PURGE_UNLINKED_HEADER]: '1' } : undefined;
    return this.http.json<MetaResponse>('POST', ROUTES.meta, body, { idempotent: !NOT_IDEMPOTENT.has(op), headers });
  }
}

function serverOnly(op: string): Promise<never> {
  return Promise.reject(new FsError('ENOSYS', `${op} runs on the server (garbage collection and checks are the server's job), not over the remote protocol`));
}

/** The 400 a server answers to more arguments than it knows (callMetaOp in src/server/metaOps.ts). */
function isArgumentCountRefusal(err: unknown): boolean {
  return err instanceof ProtocolError && err.status === 400 && /takes \d+( to \d+)? argument/.test(err.message);
}
