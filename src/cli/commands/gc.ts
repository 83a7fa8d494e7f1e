import type { Command } from 'commander';
import type { Volume } from '../../volume/Volume.js';
import { writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withVolumeSession } from '../session.js';
import { formatBytes, parseDuration } from '../units.js';
import { verb } from '../verb.js';

type GcOptions = SecretOptions & { leakedOlderThan: string; json?: boolean };

export function registerGc(program: Command): void {
  addSecretOptions(
    program
      .command('gc')
      .description('free blocks no file uses, and blocks the metadata does not know (leaked by a crash)')
      .argument('<vol>', 'volume folder')
      .option('--leaked-older-than <duration>', 'remove leaked blocks only when older than this (a crashed upload may be younger)', '1h')
      .option('--json', 'machine-readable output'),
  ).action(verb(async (dir: string, opts: GcOptions) => {
    const leakedMinAgeMs = parseDuration(opts.leakedOlderThan);
    const result = await withVolumeSession(dir, secretOptionsOf(opts), 'cli gc', async ({ volume, data }) => {
      // The CLI holds the volume's lock, so no upload is in flight: no grace period is needed.
      const unreferenced = await data.collectGarbage({ graceMs: 0 });
      const leaked = await removeLeakedBlocks(volume, leakedMinAgeMs);
      return { unreferenced, leaked };
    });
    const deleted = result.unreferenced.deleted + result.leaked.deleted;
    const bytes = result.unreferenced.bytes + result.leaked.bytes;
    if (opts.json) {
      await writeStdout(JSON.stringify({ deleted, bytes, ...result }) + '\n');
    } else {
      await writeStdout(
        `freed ${deleted} block(s), ${formatBytes(bytes)} (${bytes} bytes): ` +
          `${result.unreferenced.deleted} unreferenced, ${result.leaked.deleted} leaked` +
          (result.leaked.kept > 0 ? `; kept ${result.leaked.kept} leaked block(s) younger than ${opts.leakedOlderThan}` : '') +
          '\n',
      );
    }
  }));
}

/** Delete stored blocks that the metadata does not know, if older than `minAgeMs`. */
export async function removeLeakedBlocks(volume: Volume, minAgeMs: number): Promise<{ deleted: number; bytes: number; kept: number }> {
  const result = { deleted: 0, bytes: 0, kept: 0 };
  const cutoff = Date.now() - minAgeMs;
  const leaked = [];
  for await (const b of volume.blocks.list()) {
    if ((await volume.meta.getBlock(b.id)) === null) leaked.push(b);
  }
  for (const b of leaked) {
    // Unknown age counts as old enough only when no minimum age was asked for.
    if ((b.mtimeMs ?? (minAgeMs === 0 ? 0 : Date.now())) > cutoff) {
      result.kept++;
      continue;
    }
    await volume.blocks.delete(b.id);
    result.deleted++;
    result.bytes += b.size;
  }
  return result;
}
