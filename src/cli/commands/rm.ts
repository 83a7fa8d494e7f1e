import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import { ROOT_CTX, type VfsApi } from '../../vfs/types.js';
import { OperandErrors } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes } from '../target.js';
import { isDir, listDir, splitPath } from '../vfsPaths.js';
import { verb } from '../verb.js';

type RmOptions = SecretOptions & { recursive?: boolean; force?: boolean };

export function registerRm(program: Command): void {
  addSecretOptions(
    program
      .command('rm')
      .description('remove files (and with -r, directories and their contents) from a volume')
      .argument('<paths...>', 'VOL:/path or http(s)://host:port:/path operands (all in one volume)')
      .option('-r, --recursive', 'remove directories and their contents')
      .option('-f, --force', 'ignore paths that do not exist'),
  ).action(verb(async (args: string[], opts: RmOptions) => {
    const { volume, paths } = parseRemotes(args);
    const errors = new OperandErrors('rm');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli rm', async ({ vfs }) => {
      await errors.each(paths, (p) => p.raw, async (p) => {
        const { dir, name } = splitPath(p.path);
        if (name === '' || name === '.' || name === '..') throw new FsError('EINVAL', `refusing to remove '${p.path}'`);
        let parent;
        let attr;
        try {
          parent = await vfs.resolve(ROOT_CTX, dir);
          attr = await vfs.lookup(ROOT_CTX, parent.ino, name);
        } catch (err) {
          if (opts.force && err instanceof FsError && err.code === 'ENOENT') return;
          throw err;
        }
        if (!isDir(attr)) return vfs.unlink(ROOT_CTX, parent.ino, name);
        if (!opts.recursive) throw new FsError('EISDIR', 'is a directory (use -r to remove it and its contents)');
        await removeContents(vfs, attr.ino);
        await vfs.rmdir(ROOT_CTX, parent.ino, name);
      });
    });
    errors.finish();
  }));
}

/** Empty a directory, depth first. */
async function removeContents(vfs: VfsApi, dirIno: number): Promise<void> {
  for (const e of await listDir(vfs, dirIno)) {
    const child = await vfs.lookup(ROOT_CTX, dirIno, e.name);
    if (isDir(child)) {
      await removeContents(vfs, child.ino);
      await vfs.rmdir(ROOT_CTX, dirIno, e.name);
    } else {
      await vfs.unlink(ROOT_CTX, dirIno, e.name);
    }
  }
}
