import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { OperandErrors } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes, splitSourcesAndDest } from '../target.js';
import { isDir, resolveParent, tryResolve } from '../vfsPaths.js';
import { verb } from '../verb.js';

export function registerMv(program: Command): void {
  addSecretOptions(
    program
      .command('mv')
      .description('rename or move files and directories inside one volume')
      .argument('<operands...>', 'VOL:/path operands, then the destination (an existing directory means: into it)')
      .usage('[options] <VOL:/path...> <VOL:/dest>')
  ).action(verb(async (operands: string[], opts: SecretOptions) => {
    const { sources: sourceArgs, dest: destArg } = splitSourcesAndDest(operands, 'mv');
    const { volume, paths } = parseRemotes([...sourceArgs, destArg]);
    const dest = paths.pop()!;
    const errors = new OperandErrors('mv');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli mv', async ({ vfs }) => {
      const destAttr = await tryResolve(vfs, dest.path);
      const into = destAttr !== null && isDir(destAttr);
      if (!into && paths.length > 1) throw new FsError('ENOTDIR', `target ${dest.raw} is not a directory`);
      await errors.each(paths, (p) => p.raw, async (p) => {
        const from = await resolveParent(vfs, p.path);
        const to = into ? { parent: destAttr!, name: from.name } : await resolveParent(vfs, dest.path);
        await vfs.rename(ROOT_CTX, from.parent.ino, from.name, to.parent.ino, to.name, 0);
      });
    });
    errors.finish();
  }));
}
