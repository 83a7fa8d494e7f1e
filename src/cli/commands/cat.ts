import type { Command } from 'commander';
import { constants as fsc } from 'node:fs';
import { FsError } from '../../errors.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { OperandErrors, writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes } from '../target.js';
import { PIECE_BYTES } from '../transfer/common.js';
import { isDir, resolveFollow } from '../vfsPaths.js';
import { verb } from '../verb.js';

export function registerCat(program: Command): void {
  addSecretOptions(
    program
      .command('cat')
      .description('write the contents of volume files to stdout')
      .argument('<files...>', 'VOL:/path or http(s)://host:port:/path operands (all in one volume)'),
  ).action(verb(async (args: string[], opts: SecretOptions) => {
    const { volume, paths } = parseRemotes(args);
    const errors = new OperandErrors('cat');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli cat', async ({ vfs }) => {
      await errors.each(paths, (p) => p.raw, async (p) => {
        const attr = await resolveFollow(vfs, p.path);
        if (isDir(attr)) throw new FsError('EISDIR');
        const { fh } = await vfs.open(ROOT_CTX, attr.ino, fsc.O_RDONLY);
        try {
          for (let offset = 0; ;) {
            const piece = await vfs.read(ROOT_CTX, fh, offset, PIECE_BYTES);
            if (piece.length === 0) break;
            await writeStdout(piece);
            offset += piece.length;
          }
        } finally {
          await vfs.release(ROOT_CTX, fh);
        }
      });
    }, { readonly: true });
    errors.finish();
  }));
}
