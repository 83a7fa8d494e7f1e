import type { Command } from 'commander';
import { S_IFLNK, S_IFMT, type InodeAttr } from '../../meta/MetaStore.js';
import { ROOT_CTX, type VfsApi } from '../../vfs/types.js';
import { formatShortTime, modeString } from '../format.js';
import { OperandErrors, writeStdout } from '../output.js';
import { addSecretOptions, secretOptionsOf, type SecretOptions } from '../secretOptions.js';
import { withTargetSession } from '../session.js';
import { parseRemotes } from '../target.js';
import { isDir, joinPath, listDir } from '../vfsPaths.js';
import { verb } from '../verb.js';

type LsOptions = SecretOptions & { long?: boolean; all?: boolean; directory?: boolean };

interface Row {
  name: string;
  attr: InodeAttr;
}

export function registerLs(program: Command): void {
  addSecretOptions(
    program
      .command('ls')
      .description('list directory contents in a volume')
      .argument('[paths...]', 'VOL:/path or http(s)://host:port:/path operands (all in one volume)')
      .option('-l, --long', 'long listing: mode, links, owner, group, size, mtime')
      .option('-a, --all', "include names starting with '.', and '.' and '..'")
      .option('-d, --directory', 'list directories themselves, not their contents'),
  ).action(verb(async (args: string[], opts: LsOptions) => {
    const { volume, paths } = parseRemotes(args);
    const errors = new OperandErrors('ls');
    await withTargetSession(volume, secretOptionsOf(opts), 'cli ls', async ({ vfs }) => {
      let first = true;
      await errors.each(paths, (p) => p.raw, async (p) => {
        const attr = await vfs.resolve(ROOT_CTX, p.path);
        const rows = isDir(attr) && !opts.directory ? await dirRows(vfs, p.path, attr, opts.all === true) : [{ name: p.path, attr }];
        const header = paths.length > 1 && isDir(attr) && !opts.directory ? `${first ? '' : '\n'}${p.raw}:\n` : '';
        first = false;
        await writeStdout(header + (await render(vfs, rows, opts.long === true)));
      });
    }, { readonly: true });
    errors.finish();
  }));
}

async function dirRows(vfs: VfsApi, path: string, dir: InodeAttr, all: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  if (all) {
    rows.push({ name: '.', attr: dir });
    rows.push({ name: '..', attr: await vfs.resolve(ROOT_CTX, joinPath(path, '..')) });
  }
  const entries = (await listDir(vfs, dir.ino)).filter((e) => all || !e.name.startsWith('.'));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) rows.push({ name: e.name, attr: await vfs.getattr(ROOT_CTX, e.ino) });
  return rows;
}

async function render(vfs: VfsApi, rows: Row[], long: boolean): Promise<string> {
  if (!long) return rows.map((r) => r.name + '\n').join('');
  const cols = await Promise.all(rows.map(async (r) => {
    const link = (r.attr.mode & S_IFMT) === S_IFLNK ? ` -> ${await vfs.readlink(ROOT_CTX, r.attr.ino)}` : '';
    return [modeString(r.attr.mode), String(r.attr.nlink), String(r.attr.uid), String(r.attr.gid),
      String(r.attr.size), formatShortTime(r.attr.mtime), r.name + link];
  }));
  const widths = [1, 2, 3, 4].map((i) => Math.max(0, ...cols.map((c) => c[i].length)));
  return cols.map((c) =>
    [c[0], c[1].padStart(widths[0]), c[2].padEnd(widths[1]), c[3].padEnd(widths[2]), c[4].padStart(widths[3]), c[5], c[6]].join(' ') + '\n',
  ).join('');
}
