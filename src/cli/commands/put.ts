import type { Command } from 'commander';
import path from 'node:path';
import { FsError } from '../../errors.js';
import type { VfsApi } from '../../vfs/types.js';
import { UsageError } from '../errors.js';
import { OperandErrors } from '../output.js';
import { startProgress } from '../progress.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseTarget, splitSourcesAndDest } from '../target.js';
import { tryItem, type TransferContext } from '../transfer/common.js';
import { localTreeBytes, putEntry } from '../transfer/putTree.js';
import { makeDirs } from './mkdir.js';
import { isDir, resolveParent, tryResolve } from '../vfsPaths.js';
import { verb } from '../verb.js';

type PutOptions = SecretOptions & { progress?: boolean };

export function registerPut(program: Command): void {
  addSecretOptions(
    program
      .command('put')
      .description('copy local files and folders (recursively) into a volume, keeping mode and mtime')
      .argument('<operands...>', "local files or folders, then the destination VOL:/path (ending in '/' or naming an existing directory means: into it)")
      .usage('[options] <local...> <VOL:/dest>')
      .option('--progress', 'show a progress bar even when stderr is not a terminal'),
  ).action(verb(async (operands: string[], opts: PutOptions) => {
    const { sources: sources, dest: destArg } = splitSourcesAndDest(operands, 'put');
    const dest = parseTarget(destArg);
    if (dest.kind !== 'remote') throw new UsageError(`${destArg}: the destination must be a volume path like ./vol:/dir/`);
    for (const s of sources) {
      if (parseTarget(s).kind !== 'local') throw new UsageError(`${s}: put copies LOCAL files into a volume; use mv inside a volume`);
    }
    const total = (await Promise.all(sources.map((s) => localTreeBytes(s).catch(() => 0)))).reduce((a, b) => a + b, 0);
    const errors = new OperandErrors('put');
    await withTargetSession(dest.volume, secretOptionsOf(opts), 'cli put', async ({ vfs }) => {
      const progress = startProgress(total, opts.progress === true);
      const ctx: TransferContext = { vfs, progress, errors };
      try {
        await putAll(ctx, vfs, sources, dest.path);
      } finally {
        progress.stop();
      }
    });
    errors.finish();
  }));
}

async function putAll(ctx: TransferContext, vfs: VfsApi, sources: string[], destPath: string): Promise<void> {
  const existing = await tryResolve(vfs, destPath);
  const into = destPath.endsWith('/') || (existing !== null && isDir(existing));
  if (!into) {
    if (sources.length > 1) throw new FsError('ENOTDIR', `target ${destPath} is not a directory`);
    const { parent, name } = await resolveParent(vfs, destPath);
    await tryItem(ctx, sources[0], () => putEntry(ctx, sources[0], parent.ino, name, destPath));
    return;
  }
  const dir = existing ?? await makeDirs(vfs, destPath, 0o755);
  if (!isDir(dir)) throw new FsError('ENOTDIR', `target ${destPath} is not a directory`);
  for (const src of sources) {
    const name = path.basename(path.resolve(src));
    const childDest = destPath.endsWith('/') ? destPath + name : `${destPath}/${name}`;
    await tryItem(ctx, src, () => putEntry(ctx, src, dir.ino, name, childDest));
  }
}
