import type { Command } from 'commander';
import { fsck } from '../../volume/fsck.js';
import { ReportedFailure } from '../errors.js';
import { writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withVolumeSession } from '../session.js';
import { verb } from '../verb.js';

export function registerFsck(program: Command): void {
  addSecretOptions(
    program
      .command('fsck')
      .description('check a volume: metadata consistency, every block present, decryptable and authentic (exit 1 if problems)')
      .argument('<vol>', 'volume folder')
      .option('--json', 'machine-readable report')
      .option('--no-verify', 'only check that blocks exist; do not read and authenticate them'),
  ).action(verb(async (dir: string, opts: SecretOptions & { json?: boolean; verify: boolean }) => {
    const report = await withVolumeSession(dir, secretOptionsOf(opts), 'cli fsck', ({ volume }) =>
      fsck(volume, { verifyBlocks: opts.verify }), { readonly: true });
    if (opts.json) {
      await writeStdout(JSON.stringify(report) + '\n');
    } else {
      const lines = [
        ...report.problems.map((p) => `problem: ${p}`),
        ...report.info.map((i) => `info: ${i}`),
        ...(report.filesAffected.length > 0 ? [`files affected: ${report.filesAffected.join(', ')}`] : []),
        `${report.blocksChecked} block(s) checked; ${report.clean ? 'volume is clean' : `${report.problems.length} problem(s) found`}`,
      ];
      await writeStdout(lines.join('\n') + '\n');
    }
    if (!report.clean) throw new ReportedFailure(1);
  }));
}
