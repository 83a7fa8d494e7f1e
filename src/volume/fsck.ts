import { BlockNotFoundError, IntegrityError } from '../errors.js';
import type { BlockRecord } from '../meta/MetaStore.js';
import type { Volume } from './Volume.js';

export interface FsckOptions {
  /** Read, decrypt and authenticate every block (default true); false only checks that blocks exist. */
  verifyBlocks?: boolean;
  /** Blocks checked at once. */
  concurrency?: number;
}

export interface FsckReport {
  /** No problems (info lines do not count). */
  clean: boolean;
  /** Damage: metadata inconsistencies, missing or corrupt blocks. */
  problems: string[];
  /** Harmless findings: orphans awaiting purge, leaked or unreferenced blocks `gc` can free. */
  info: string[];
  /** Recorded blocks that were checked. */
  blocksChecked: number;
  /** Paths of the files whose data is damaged (sorted, unique). */
  filesAffected: string[];
  /** Blocks in the store that the metadata does not know. */
  leakedBlocks: { count: number; bytes: number };
}

/** MetaStore.check() marks informational lines with this prefix. */
const ORPHAN_PREFIX = 'orphan:';
const PAGE = 1000;

/**
 * Check a volume: the metadata's own consistency, then every recorded block (present, and with
 * verifyBlocks, decrypts and authenticates), then the block store for blocks the metadata does not
 * know. Damaged blocks are reported with the paths of the files that use them.
 */
export async function fsck(volume: Volume, opts: FsckOptions = {}): Promise<FsckReport> {
  const verify = opts.verifyBlocks ?? true;
  const report: FsckReport = { clean: true, problems: [], info: [], blocksChecked: 0, filesAffected: [], leakedBlocks: { count: 0, bytes: 0 } };
  const affected = new Set<string>();

  for (const line of await volume.meta.check()) {
    (line.startsWith(ORPHAN_PREFIX) ? report.info : report.problems).push(line);
  }

  const known = new Set<string>();
  let unreferenced = 0;
  let cursor: string | null = null;
  do {
    const page: { blocks: BlockRecord[]; next: string | null } = await volume.meta.listBlocks(cursor, PAGE);
    cursor = page.next;
    for (const b of page.blocks) {
      known.add(b.id);
      if (b.refs === 0) unreferenced++;
    }
    await forEachLimited(page.blocks, opts.concurrency ?? 4, async (b) => {
      const damage = await checkBlock(volume, b, verify);
      report.blocksChecked++;
      if (!damage) return;
      const files = await filesUsing(volume, b.id);
      for (const f of files) affected.add(f);
      const users = files.length > 0 ? `; used by ${files.join(', ')}` : b.refs === 0 ? '; no file uses it' : '';
      report.problems.push(`block ${b.id} ${damage}${users}`);
    });
  } while (cursor !== null);
  if (unreferenced > 0) report.info.push(`${unreferenced} recorded block(s) no file uses; \`mosaicfs gc\` frees them`);

  for await (const stored of volume.blocks.list()) {
    if (known.has(stored.id)) continue;
    report.leakedBlocks.count++;
    report.leakedBlocks.bytes += stored.size;
  }
  if (report.leakedBlocks.count > 0) {
    report.info.push(
      `${report.leakedBlocks.count} leaked block(s) (${report.leakedBlocks.bytes} bytes) in the block store are unknown to the metadata; ` +
        '`mosaicfs gc` removes those older than 1 hour',
    );
  }

  report.filesAffected = [...affected].sort();
  report.clean = report.problems.length === 0;
  return report;
}

/** null if the block is fine, else what is wrong with it. */
async function checkBlock(volume: Volume, b: BlockRecord, verify: boolean): Promise<string | null> {
  try {
    if (!verify) return (await volume.blocks.has(b.id)) ? null : 'is missing from the block store';
    const sealed = await volume.blocks.get(b.id);
    const plain = volume.codec.open(b.id, sealed);
    if (plain.length !== b.size) return `has ${plain.length} bytes of data, but the metadata records ${b.size}`;
    return null;
  } catch (err) {
    if (err instanceof BlockNotFoundError) return 'is missing from the block store';
    if (err instanceof IntegrityError) return `is corrupt: ${err.message.split('failed integrity check: ')[1] ?? err.message}`;
    return `cannot be read: ${(err as Error).message}`;
  }
}

async function filesUsing(volume: Volume, id: string): Promise<string[]> {
  const paths: string[] = [];
  for (const ino of await volume.meta.inodesUsingBlock(id)) {
    paths.push((await volume.meta.pathOf(ino)) ?? `<unlinked inode ${ino}>`);
  }
  return paths;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
