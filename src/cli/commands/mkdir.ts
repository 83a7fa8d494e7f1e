import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import type { InodeAttr } from '../../meta/MetaStore.js';
import { ROOT_CTX, type VfsApi } from '../../vfs/types.js';
import { UsageError } from '../errors.js';
import { OperandErrors } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes } from '../target.js';
import { invokingOwner, isDir, joinPath, resolveParent, tryResolve } from '../vfsPaths.js';
import { verb } from '../verb.js';

export function registerMkdir(program: Command): void {
  addSecretOptions(
    program
      .command('mkdir')
      .description('create directories in a volume')
      .argument('<paths...>', 'VOL:/path or http(s)://host:port:/path operands (all in one volume)')
      .option('-p, --parents', 'create missing parents; no error if the directory exists')
      .option('-m, --mode <octal>', 'permission bits of new directories', '755'),
  ).action(verb(async (args: string[], opts: SecretOptions & { parents?: boolean; mode: string }) => {
    const mode = parseMode(opts.mode);
    const { volume, paths } = parseRemotes(args);
    const errors = new OperandErrors('mkdir');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli mkdir', async ({ vfs }) => {
      await errors.each(paths, (p) => p.raw, async (p) => {
        if (opts.parents) await makeDirs(vfs, p.path, mode);
        else await makeDir(vfs, p.path, mode);
      });
    });
    errors.finish();
  }));
}

export function parseMode(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new UsageError(`invalid mode ${JSON.stringify(text)}: use octal digits like 755`);
  return parseInt(text, 8);
}

/** mkdir of one directory, owned by the invoking user. EEXIST if the name exists. */
export async function makeDir(vfs: VfsApi, path: string, mode: number): Promise<InodeAttr> {
  const { parent, name } = await resolveParent(vfs, path);
  return adopt(vfs, await vfs.mkdir(ROOT_CTX, parent.ino, name, mode), mode);
}

/** mkdir -p: create each missing component; an existing directory is fine, anything else is not. */
export async function makeDirs(vfs: VfsApi, path: string, mode: number): Promise<InodeAttr> {
  let current = '/';
  let attr = await vfs.resolve(ROOT_CTX, '/');
  for (const part of path.split('/')) {
    if (part === '') continue;
    current = joinPath(current, part);
    const found = await tryResolve(vfs, current);
    if (found) {
      if (!isDir(found)) throw new FsError('ENOTDIR', `${current}: exists and is not a directory`);
      attr = found;
    } else {
      attr = await adopt(vfs, await vfs.mkdir(ROOT_CTX, attr.ino, part, mode), mode);
    }
  }
  return attr;
}

/** Give a new directory to the invoking user (the CLI operates as root) with exactly `mode`. */
async function adopt(vfs: VfsApi, dir: InodeAttr, mode: number): Promise<InodeAttr> {
  await vfs.setattr(ROOT_CTX, dir.ino, invokingOwner());
  return vfs.setattr(ROOT_CTX, dir.ino, { mode });
}
