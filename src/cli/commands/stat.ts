import type { Command } from 'commander';
import { S_IFLNK, S_IFMT, S_IFREG, type InodeAttr, type MetaStore, type Timespec } from '../../meta/MetaStore.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { formatTimespec, modeString, typeName } from '../format.js';
import { OperandErrors, writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes } from '../target.js';
import { formatBytes } from '../units.js';
import { verb } from '../verb.js';

/** What the file's contents occupy in the block store. */
export interface BlockUsage {
  /** Distinct blocks the file's slices reference. */
  blocks: number;
  /** Bytes the file's slices reference (its data without holes). */
  referencedBytes: number;
  /** Stored (sealed) size of those distinct blocks, shared ones counted in full. */
  storedBytes: number;
}

export function registerStat(program: Command): void {
  addSecretOptions(
    program
      .command('stat')
      .description('show every attribute of volume paths (nanosecond times, inode, links, blocks used)')
      .argument('<paths...>', 'VOL:/path or http(s)://host:port:/path operands (all in one volume)')
      .option('--json', 'one JSON object per line'),
  ).action(verb(async (args: string[], opts: SecretOptions & { json?: boolean }) => {
    const { volume, paths } = parseRemotes(args);
    const errors = new OperandErrors('stat');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli stat', async ({ vfs, meta, blockSize }) => {
      await errors.each(paths, (p) => p.raw, async (p) => {
        const attr = await vfs.resolve(ROOT_CTX, p.path);
        const isLink = (attr.mode & S_IFMT) === S_IFLNK;
        const target = isLink ? await vfs.readlink(ROOT_CTX, attr.ino) : undefined;
        const usage = await blockUsage(meta, attr, blockSize);
        await writeStdout(opts.json ? JSON.stringify(statJson(p.path, attr, usage, target)) + '\n' : statText(p.path, attr, usage, target));
      });
    }, { readonly: true });
    errors.finish();
  }));
}

/** Distinct blocks (and their sizes) referenced by a regular file's slices. */
export async function blockUsage(meta: MetaStore, attr: InodeAttr, chunkSize: number): Promise<BlockUsage> {
  const usage: BlockUsage = { blocks: 0, referencedBytes: 0, storedBytes: 0 };
  if ((attr.mode & S_IFMT) !== S_IFREG || attr.size === 0) return usage;
  const chunks = await meta.readChunks(attr.ino, 0, Math.ceil(attr.size / chunkSize) - 1);
  const ids = new Set<string>();
  for (const slices of chunks.values()) {
    for (const s of slices) {
      usage.referencedBytes += s.len;
      ids.add(s.blockId);
    }
  }
  usage.blocks = ids.size;
  for (const id of ids) usage.storedBytes += (await meta.getBlock(id))?.storedSize ?? 0;
  return usage;
}

function statJson(path: string, a: InodeAttr, usage: BlockUsage, target?: string) {
  return {
    path, type: typeName(a.mode), ino: a.ino, mode: a.mode, perm: (a.mode & 0o7777).toString(8).padStart(4, '0'),
    nlink: a.nlink, uid: a.uid, gid: a.gid, rdev: a.rdev, size: a.size, ...usage,
    atime: a.atime, mtime: a.mtime, ctime: a.ctime, crtime: a.crtime,
    ...(target !== undefined ? { target } : {}),
  };
}

function statText(path: string, a: InodeAttr, usage: BlockUsage, target?: string): string {
  const t = (x: Timespec) => formatTimespec(x);
  return [
    `  File: ${path}${target !== undefined ? ` -> ${target}` : ''}`,
    `  Type: ${typeName(a.mode)}`,
    `  Size: ${a.size}`,
    `Blocks: ${usage.blocks} (${formatBytes(usage.referencedBytes)} referenced, ${formatBytes(usage.storedBytes)} stored)`,
    ` Inode: ${a.ino}`,
    ` Links: ${a.nlink}`,
    `Access: (${(a.mode & 0o7777).toString(8).padStart(4, '0')}/${modeString(a.mode)})  Uid: ${a.uid}  Gid: ${a.gid}  Rdev: ${a.rdev}`,
    `Access: ${t(a.atime)}`,
    `Modify: ${t(a.mtime)}`,
    `Change: ${t(a.ctime)}`,
    ` Birth: ${t(a.crtime)}`,
  ].join('\n') + '\n';
}
