import type { BlockStore } from '../block/BlockStore.js';
import type { RwLock } from '../data/RwLock.js';
import { isFsError } from '../errors.js';
import type { InodeAttr, MetaStore, RenameResult, UnlinkResult } from '../meta/MetaStore.js';
import { COMMIT_BODIES_MAX_BYTES, MAX_BLOCK_BODY, REMOTE_META_OPS, type ChangeEvent, type RemoteMetaOp } from '../remote/protocol.js';
import { badRequest } from './httpErrors.js';
import {
  arrayOf, blockId, bool, buffer, chunkWrite, ino, intIn, MAX_XATTR_VALUE, name, newBlock, xattrName, nullable, object, optional,
  slice, str, timespec, uint, type Check,
} from './validate.js';

/** What a remote meta call may touch besides the MetaStore: leases (purge rules) of the same user, its blocks. */
export interface OpEnv {
  meta: MetaStore;
  /** The user's block store and the lock its garbage collection holds exclusive. */
  blocks: BlockStore;
  gcLock: RwLock;
  /** Inodes some OTHER live client has open. */
  openElsewhere(inos: number[]): Promise<Set<number>>;
  /** Purge later, when no client has the inode open any more. */
  deferPurge(ino: number): void;
}

type Change = Omit<ChangeEvent, 'origin'>;

interface OpSpec {
  args: Check<unknown>[];
  /** Arguments a caller must send (default: all); the rest are optional trailing ones (older clients omit them). */
  required?: number;
  run?: (env: OpEnv, args: any[]) => Promise<unknown>;
  /** The change event of a successful mutating call (absent: read-only). */
  change?: (args: any[], result: any, env: OpEnv) => Promise<Change> | Change;
  /** Inodes whose attributes the answer carries when the client asks (MetaRequest.attrs). */
  attrsAfter?: (args: any[], result: any) => number[];
}

const LIST_LIMIT = 10_000;
const listLimit = intIn(1, LIST_LIMIT);
const cursor = nullable(str);
const newInode = object({
  mode: intIn(0, 0o177777), uid: intIn(0, 0xffffffff), gid: intIn(0, 0xffffffff), rdev: optional(intIn(0, 0xffffffff)),
  now: timespec, symlinkTarget: optional(str),
});
const attrChanges = object({
  mode: optional(intIn(0, 0o177777)), uid: optional(intIn(0, 0xffffffff)), gid: optional(intIn(0, 0xffffffff)),
  atime: optional(timespec), mtime: optional(timespec), ctime: timespec,
});
const flags = intIn(0, 3);
const blockBody = object({ id: blockId, data: buffer(MAX_BLOCK_BODY) });

const inos = (...list: Array<number | undefined>): number[] => [...new Set(list.filter((n): n is number => n !== undefined))];
const none: Change = { inos: [], entries: [], data: [] };

/** Best effort: the inode now under (parent, name), for events after a rename. */
async function inoAt(meta: MetaStore, parent: number, n: string): Promise<number | undefined> {
  try {
    return (await meta.lookup(parent, n))?.ino;
  } catch {
    return undefined;
  }
}

export const META_OPS: Record<RemoteMetaOp, OpSpec> = {
  sync: { args: [] },
  getSetting: { args: [str] },
  getattr: { args: [ino] },
  lookup: { args: [ino, name] },
  pathOf: { args: [ino] },
  isAncestor: { args: [ino, ino] },
  create: {
    args: [ino, name, newInode],
    change: ([parent, n], attr: { ino: number }) => ({ inos: inos(parent, attr.ino), entries: [{ parent, name: n }], data: [] }),
    attrsAfter: ([parent]) => [parent],
  },
  link: {
    args: [ino, ino, name, timespec],
    change: ([i, parent, n]) => ({ inos: inos(i, parent), entries: [{ parent, name: n }], data: [] }),
    attrsAfter: ([, parent]) => [parent],
  },
  unlink: {
    args: [ino, name, timespec],
    change: ([parent, n], r: UnlinkResult) => ({ inos: inos(parent, r.ino), entries: [{ parent, name: n }], data: [] }),
    attrsAfter: ([parent], r: UnlinkResult) => inos(parent, r.ino),
  },
  rmdir: {
    args: [ino, name, timespec],
    change: ([parent, n]) => ({ inos: inos(parent), entries: [{ parent, name: n }], data: [] }),
    attrsAfter: ([parent]) => [parent],
  },
  rename: {
    args: [ino, name, ino, name, flags, timespec],
    change: async ([p, n, np, nn], r: RenameResult, env) => ({
      inos: inos(p, np, r.replaced?.ino, await inoAt(env.meta, np, nn), await inoAt(env.meta, p, n)),
      entries: [{ parent: p, name: n }, { parent: np, name: nn }],
      data: [],
    }),
    attrsAfter: ([p, , np], r: RenameResult) => inos(p, np, r.replaced?.ino),
  },
  readlink: { args: [ino] },
  readdir: {
    args: [ino, cursor, listLimit, optional(bool)],
    required: 3,
    // A page read with attributes also names each entry's xattrs, so a client can answer the
    // per-entry getxattr of `ls -l` (security.selinux...) without a request per entry.
    run: async (env, [dir, cur, limit, withAttrs]) => {
      const page = await env.meta.readdir(dir, cur, limit, withAttrs === true);
      if (withAttrs !== true) return page;
      const names = await Promise.all(page.entries.map((e) => env.meta.listxattr(e.ino)));
      return { ...page, entries: page.entries.map((e, i) => ({ ...e, xattrs: names[i] })) };
    },
  },
  setattr: { args: [ino, attrChanges], change: ([i]) => ({ inos: [i], entries: [], data: [] }) },
  truncate: { args: [ino, uint, timespec], change: ([i]) => ({ inos: [i], entries: [], data: [i] }) },
  listOrphans: {
    args: [],
    run: async (env) => {
      const orphans = await env.meta.listOrphans();
      const open = await env.openElsewhere(orphans);
      return orphans.filter((i) => !open.has(i));
    },
  },
  purgeInode: {
    args: [ino],
    run: async (env, [i]) => {
      if ((await env.openElsewhere([i])).has(i)) {
        // Still open on another client: succeed now, purge when the last one closes it.
        env.deferPurge(i);
        return undefined;
      }
      return env.meta.purgeInode(i);
    },
    change: ([i]) => ({ inos: [i], entries: [], data: [] }),
  },
  getxattr: { args: [ino, xattrName] },
  setxattr: { args: [ino, xattrName, buffer(MAX_XATTR_VALUE), intIn(0, 2), timespec], change: ([i]) => ({ inos: [i], entries: [], data: [] }) },
  listxattr: { args: [ino] },
  removexattr: { args: [ino, xattrName, timespec], change: ([i]) => ({ inos: [i], entries: [], data: [] }) },
  readChunks: {
    args: [ino, uint, uint],
    run: (env, [i, first, last]) => {
      if (last < first) throw badRequest('readChunks: last must be >= first');
      return env.meta.readChunks(i, first, last);
    },
  },
  commitSlices: {
    // ctime (6th) is optional: older clients send 5 arguments (ctime = mtime then).
    args: [ino, arrayOf(chunkWrite), arrayOf(newBlock), uint, timespec, optional(timespec)],
    required: 5,
    change: ([i]) => ({ inos: [i], entries: [], data: [i] }),
  },
  commitSlicesWithBlocks: {
    // ctime (7th, after the bodies) is optional: older clients send 6 arguments.
    args: [ino, arrayOf(chunkWrite), arrayOf(newBlock), uint, timespec, arrayOf(blockBody, 256), optional(timespec)],
    required: 6,
    // Stored before the commit that references them, under the GC lock held shared: the collector
    // cannot delete a just-stored block (an old unreferenced copy) before the commit references it.
    run: async (env, [i, writes, newBlocks, minSize, mtime, bodies, ctime]) => {
      const ids = new Set((newBlocks as Array<{ id: string }>).map((b) => b.id));
      let total = 0;
      for (const b of bodies as Array<{ id: string; data: Buffer }>) {
        if (!ids.has(b.id)) throw badRequest(`commitSlicesWithBlocks: block ${b.id} is not one of the commit's new blocks`);
        total += b.data.length;
      }
      if (total > COMMIT_BODIES_MAX_BYTES) throw badRequest(`commitSlicesWithBlocks: more than ${COMMIT_BODIES_MAX_BYTES} bytes of blocks`);
      const release = await env.gcLock.acquireShared();
      try {
        for (const b of bodies as Array<{ id: string; data: Buffer }>) await env.blocks.put(b.id, b.data);
        return await env.meta.commitSlices(i, writes, newBlocks, minSize, mtime, ctime);
      } finally {
        release();
      }
    },
    change: ([i]) => ({ inos: [i], entries: [], data: [i] }),
  },
  replaceChunk: {
    args: [ino, uint, uint, arrayOf(slice), arrayOf(newBlock)],
    change: ([i], replaced: boolean) => (replaced ? { inos: [i], entries: [], data: [i] } : none),
  },
  getBlock: { args: [blockId] },
  listBlocks: { args: [cursor, listLimit] },
  inodesUsingBlock: { args: [blockId] },
  stats: { args: [] },
};

export function isRemoteMetaOp(op: unknown): op is RemoteMetaOp {
  return typeof op === 'string' && (REMOTE_META_OPS as readonly string[]).includes(op);
}

export interface MetaCallResult {
  result: unknown;
  /** Attributes after the call of the inodes its spec names (only when asked). */
  attrs?: InodeAttr[];
  /** The change to publish (null for read-only calls and changes that changed nothing). */
  change: Change | null;
}

/** Validate the decoded arguments of `op` and run it against the user's MetaStore. */
export async function callMetaOp(env: OpEnv, op: unknown, rawArgs: unknown, withAttrs = false): Promise<MetaCallResult> {
  if (!isRemoteMetaOp(op)) throw badRequest(`unknown meta op ${JSON.stringify(op)?.slice(0, 80)}`);
  const spec = META_OPS[op];
  if (!Array.isArray(rawArgs)) throw badRequest(`${op}: args must be an array`);
  const required = spec.required ?? spec.args.length;
  if (rawArgs.length < required || rawArgs.length > spec.args.length) {
    const takes = required === spec.args.length ? `${required}` : `${required} to ${spec.args.length}`;
    throw badRequest(`${op} takes ${takes} argument(s), got ${rawArgs.length}`);
  }
  const args = rawArgs.map((v, i) => spec.args[i](v, `${op} argument ${i + 1}`));
  const result = spec.run
    ? await spec.run(env, args)
    : await (env.meta[op as keyof MetaStore] as (...a: unknown[]) => Promise<unknown>).apply(env.meta, args);
  const attrs = withAttrs && spec.attrsAfter ? await attrsOf(env.meta, spec.attrsAfter(args, result)) : undefined;
  if (!spec.change) return { result, change: null, attrs };
  const change = await spec.change(args, result, env);
  const empty = change.inos.length === 0 && change.entries.length === 0 && change.data.length === 0;
  return { result, change: empty ? null : change, attrs };
}

/** Attributes of the inodes that still exist (a purged or raced-away one is simply left out). */
async function attrsOf(meta: MetaStore, list: number[]): Promise<InodeAttr[]> {
  const out: InodeAttr[] = [];
  for (const i of list) {
    try {
      out.push(await meta.getattr(i));
    } catch (err) {
      if (!isFsError(err, 'ENOENT')) throw err;
    }
  }
  return out;
}
