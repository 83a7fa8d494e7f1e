import type { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FsError } from '../../errors.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { UsageError } from '../errors.js';
import { OperandErrors } from '../output.js';
import { startProgress } from '../progress.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes, parseTarget, splitSourcesAndDest } from '../target.js';
import { tryItem, type TransferContext } from '../transfer/common.js';
import { getDirContents, getEntry, remoteTreeBytes } from '../transfer/getTree.js';
import { isDir, splitPath } from '../vfsPaths.js';
import { verb } from '../verb.js';

type GetOptions = SecretOptions & { progress?: boolean };

export function registerGet(program: Command): void {
  addSecretOptions(
    program
      .command('get')
      .description('copy files and directories (recursively) out of a volume, keeping mode and mtime')
      .argument('<operands...>', "VOL:/path operands (all in one volume), then the local destination (ending in '/' or naming an existing folder means: into it)")
      .usage('[options] <VOL:/path...> <localdest>')
      .option('--progress', 'show a progress bar even when stderr is not a terminal'),
  ).action(verb(async (operands: string[], opts: GetOptions) => {
    const { sources: sourceArgs, dest: dest } = splitSourcesAndDest(operands, 'get');
    if (parseTarget(dest).kind !== 'local') throw new UsageError(`${dest}: the destination of get must be a local path`);
    const { volume, paths } = parseRemotes(sourceArgs);
    const errors = new OperandErrors('get');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli get', async ({ vfs }) => {
      const sources = [];
      for (const p of paths) {
        try {
          sources.push({ ...p, attr: await vfs.resolve(ROOT_CTX, p.path) });
        } catch (err) {
          errors.report(p.raw, err);
        }
      }
      let total = 0;
      for (const s of sources) total += await remoteTreeBytes(vfs, s.attr);

      const destStat = await fsp.stat(dest).catch(() => null);
      const into = dest.endsWith('/') || destStat?.isDirectory() === true;
      if (!into && paths.length > 1) throw new FsError('ENOTDIR', `target ${dest} is not a folder`);
      if (into && !destStat) await fsp.mkdir(dest, { recursive: true });

      const progress = startProgress(total, opts.progress === true);
      const ctx: TransferContext = { vfs, progress, errors };
      try {
        for (const s of sources) {
          const { name } = splitPath(s.path);
          const plain = name !== '' && name !== '.' && name !== '..';
          await tryItem(ctx, s.raw, async () => {
            if (into && !plain && isDir(s.attr)) await getDirContents(ctx, s.attr, s.path, dest);
            else await getEntry(ctx, s.attr, s.path, into ? path.join(dest, plain ? name : path.basename(s.path)) : dest);
          });
        }
      } finally {
        progress.stop();
      }
    }, { readonly: true });
    errors.finish();
  }));
}
