import type { Command } from 'commander';
import { ROOT_CTX } from '../../vfs/types.js';
import { UsageError } from '../errors.js';
import { OperandErrors } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemote, parseRemotes } from '../target.js';
import { invokingOwner, resolveParent } from '../vfsPaths.js';
import { verb } from '../verb.js';

export function registerLn(program: Command): void {
  addSecretOptions(
    program
      .command('ln')
      .description('make a hard link (TARGET is VOL:/path) or, with -s, a symbolic link (TARGET is any text)')
      .argument('<target>', 'existing VOL:/path, or with -s the link text')
      .argument('<link>', 'VOL:/path of the new link')
      .option('-s, --symbolic', 'make a symbolic link'),
  ).action(verb(async (targetArg: string, linkArg: string, opts: SecretOptions & { symbolic?: boolean }) => {
    if (targetArg.includes('\0')) throw new UsageError('link target contains a NUL byte');
    const link = parseRemote(linkArg);
    const target = opts.symbolic ? null : parseRemotes([targetArg, linkArg]).paths[0];
    const errors = new OperandErrors('ln');
    await withTargetSession(link.volume, secretOptionsOf(opts), 'cli ln', async ({ vfs }) => {
      await errors.each([link], (l) => l.raw, async () => {
        const { parent, name } = await resolveParent(vfs, link.path);
        if (target === null) {
          const created = await vfs.symlink(ROOT_CTX, parent.ino, name, targetArg);
          await vfs.setattr(ROOT_CTX, created.ino, invokingOwner());
        } else {
          const existing = await vfs.resolve(ROOT_CTX, target.path);
          await vfs.link(ROOT_CTX, existing.ino, parent.ino, name);
        }
      });
    });
    errors.finish();
  }));
}
