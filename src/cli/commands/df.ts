import type { Command } from 'commander';
import { writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { formatBytes } from '../units.js';
import { verb } from '../verb.js';

export function registerDf(program: Command): void {
  addSecretOptions(
    program
      .command('df')
      .description('show space use of a volume: logical and stored bytes, blocks, dedup ratio, files')
      .argument('<vol>', 'volume folder, or server URL http(s)://host:port (after mosaicfs login)')
      .option('--json', 'machine-readable output'),
  ).action(verb(async (dir: string, opts: SecretOptions & { json?: boolean }) => {
    await withTargetSession(dir, secretOptionsOf(opts), 'cli df', async ({ meta, blocks, blockSize }) => {
      const s = await meta.stats();
      const usage = {
        volume: dir,
        blockStore: blocks.name,
        blockSize,
        files: s.inodes,
        logicalBytes: s.logicalBytes,
        referencedBytes: s.referencedBytes,
        blocks: s.blocks,
        blockBytes: s.blockBytes,
        storedBytes: s.storedBytes,
        // Bytes files reference per byte of distinct block data: 2 when every block is used twice.
        dedupRatio: s.blockBytes > 0 ? s.referencedBytes / s.blockBytes : 1,
      };
      if (opts.json) {
        await writeStdout(JSON.stringify(usage) + '\n');
        return;
      }
      const rows: [string, string][] = [
        ['volume', usage.volume],
        ['block store', usage.blockStore],
        ['files', `${usage.files} (inodes, directories included)`],
        ['logical size', `${formatBytes(usage.logicalBytes)} (${usage.logicalBytes} bytes)`],
        ['referenced', `${formatBytes(usage.referencedBytes)} (${usage.referencedBytes} bytes, holes excluded)`],
        ['blocks', `${usage.blocks} holding ${formatBytes(usage.blockBytes)} of data`],
        ['stored', `${formatBytes(usage.storedBytes)} (${usage.storedBytes} bytes, encrypted)`],
        ['dedup ratio', usage.dedupRatio.toFixed(2)],
      ];
      const width = Math.max(...rows.map((r) => r[0].length));
      await writeStdout(rows.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}\n`).join(''));
    }, { readonly: true });
  }));
}
