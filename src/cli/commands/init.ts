import type { Command } from 'commander';
import { checkBlockSize } from '../../volume/config.js';
import { initVolume } from '../../volume/Volume.js';
import { UsageError } from '../errors.js';
import { resolveSecret } from '../../volume/secret.js';
import { addSecretOptions, secretOptionsOf } from '../secretOptions.js';
import { formatBytes, parseSize } from '../units.js';
import { verb } from '../verb.js';

export function registerInit(program: Command): void {
  addSecretOptions(
    program
      .command('init')
      .description('create a new, empty, encrypted volume in folder DIR')
      .argument('<dir>', 'volume folder (created if missing; must be empty)')
      .option('--block-size <size>', 'block size, e.g. 1M, 4M (64K..10M, a multiple of 4K)', '4M'),
  ).action(verb(async (dir: string, opts: { blockSize: string; passphraseFile?: string; keyFile?: string }) => {
    const blockSize = parseSize(opts.blockSize);
    try {
      checkBlockSize(blockSize);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const secret = await resolveSecret({ ...secretOptionsOf(opts), confirm: true });
    await initVolume(dir, { secret, blockSize });
    process.stdout.write(`initialised volume ${dir} (block size ${formatBytes(blockSize)})\n`);
  }));
}
