import * as fs from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_LOGIN_KDF } from '../../auth/passwordKeys.js';
import type { KdfParams } from '../../remote/protocol.js';
import { changePassword, createUser, deleteUser, setUserDisabled } from '../../server/admin.js';
import { withAdminSession } from '../../server/adminSession.js';
import { resolveServeSettings, type ServeSettings } from '../../server/serveConfig.js';
import { promptHidden } from '../../volume/tty.js';
import { UsageError } from '../errors.js';
import { writeStdout } from '../output.js';
import { formatBytes, parseSize } from '../units.js';
import { verb } from '../verb.js';

export const PASSWORD_ENV = 'MOSAICFS_PASSWORD';
export const OLD_PASSWORD_ENV = 'MOSAICFS_OLD_PASSWORD';
/** For tests only: lowers the scrypt cost of new logins and verifiers (a power of two). */
export const KDF_N_ENV = 'MOSAICFS_KDF_N';

type Where = { data?: string; meta?: string; config?: string };

function addWhere(cmd: Command): Command {
  return cmd
    .option('--data <dir>', "the server's data folder (or MOSAICFS_SERVE_DATA / --config)")
    .option('--meta <url>', 'postgres:// URL when the server keeps metadata in PostgreSQL')
    .option('--config <file>', 'the JSON config file of `mosaicfs serve`');
}

async function where(opts: Where): Promise<{ dataDir: string; metaUrl?: string; store?: ServeSettings['store'] }> {
  const s = await resolveServeSettings({ data: opts.data, meta: opts.meta, config: opts.config });
  if (s.data === undefined) throw new UsageError('the data folder is required: --data DIR (or MOSAICFS_SERVE_DATA, or "data" in --config)');
  return { dataDir: s.data, metaUrl: s.meta, store: s.store };
}

/** Test knob: MOSAICFS_KDF_N lowers the login KDF and verifier cost. */
function kdfOverride(): { kdf?: KdfParams; verifierN?: number } {
  const v = process.env[KDF_N_ENV];
  if (v === undefined) return {};
  const N = Number(v);
  if (!Number.isInteger(Math.log2(N)) || N < 2) throw new UsageError(`${KDF_N_ENV} must be a power of two`);
  return { kdf: { ...DEFAULT_LOGIN_KDF, N }, verifierN: N };
}

/** --password-file (first line), else $envName, else a prompt on the terminal (twice when confirming). */
async function readPassword(opts: { file?: string; envName: string; prompt: string; confirm: boolean }): Promise<string> {
  let pw: string | undefined;
  if (opts.file !== undefined) {
    const text = await fs.readFile(opts.file, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read password file ${opts.file}: ${err.message}`);
    });
    pw = text.split('\n')[0]!.replace(/\r$/, '');
  } else if (process.env[opts.envName] !== undefined) {
    pw = process.env[opts.envName];
  } else {
    try {
      pw = await promptHidden('/dev/tty', `${opts.prompt}: `);
      if (opts.confirm && (await promptHidden('/dev/tty', `Repeat ${opts.prompt.toLowerCase()}: `)) !== pw) {
        throw new UsageError('the passwords do not match');
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT' || code === 'ENOTTY' || code === 'ENODEV' || code === 'EACCES') {
        throw new UsageError(`no password given and no terminal to ask on: use --password-file FILE or set ${opts.envName}`);
      }
      throw err;
    }
  }
  if (!pw) throw new UsageError('an empty password is not allowed');
  return pw;
}

function intOption(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`${what} must be a non-negative integer`);
  return n;
}

export function registerUser(program: Command): void {
  const user = program
    .command('user')
    .description('manage the users of a mosaicfs server (run on the server; works while it runs)');

  addWhere(
    user
      .command('add')
      .description(`create a user and their empty encrypted volume. Password: --password-file, $${PASSWORD_ENV}, or asked twice.\n` +
        'The root folder of the volume belongs to --uid/--gid (default: the uid/gid running this command).')
      .argument('<name>', 'login name (1-64 of A-Z a-z 0-9 . _ -)')
      .option('--block-size <size>', 'block size of the volume (64K..10M)', '4M')
      .option('--uid <uid>', 'owner of the volume root')
      .option('--gid <gid>', 'group of the volume root')
      .option('--password-file <file>', 'read the password from this file'),
  ).action(verb(async (name: string, opts: Where & { blockSize: string; uid?: string; gid?: string; passwordFile?: string }) => {
    const w = await where(opts);
    const blockSize = parseSize(opts.blockSize);
    const uid = intOption(opts.uid, '--uid');
    const gid = intOption(opts.gid, '--gid');
    const password = await readPassword({ file: opts.passwordFile, envName: PASSWORD_ENV, prompt: 'Password', confirm: true });
    await withAdminSession(w, async ({ backend, spaces }) => {
      try {
        await createUser(backend.accounts, spaces, { name, password, blockSize, uid, gid, ...kdfOverride() });
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(err.message);
        throw err;
      }
    });
    await writeStdout(`added user ${name} (block size ${formatBytes(blockSize)})\n`);
  }));

  addWhere(user.command('list').description('list users').option('--json', 'machine-readable output'))
    .action(verb(async (opts: Where & { json?: boolean }) => {
      const users = await withAdminSession(await where(opts), ({ backend }) => backend.accounts.listUsers());
      const rows = users.map((u) => ({ name: u.name, id: u.id, disabled: u.disabled, blockSize: u.blockSize, created: new Date(u.created).toISOString() }));
      if (opts.json) return writeStdout(JSON.stringify(rows) + '\n');
      for (const r of rows) await writeStdout(`${r.name}\t${r.disabled ? 'disabled' : 'enabled'}\t${formatBytes(r.blockSize)}\t${r.created}\t${r.id}\n`);
    }));

  addWhere(
    user
      .command('passwd')
      .description('change a password. The old one is needed: the server cannot unwrap the volume key without it.\n' +
        `Old: --old-password-file or $${OLD_PASSWORD_ENV}; new: --password-file or $${PASSWORD_ENV}; else asked. Revokes all tokens.`)
      .argument('<name>')
      .option('--old-password-file <file>', 'read the current password from this file')
      .option('--password-file <file>', 'read the new password from this file'),
  ).action(verb(async (name: string, opts: Where & { oldPasswordFile?: string; passwordFile?: string }) => {
    const w = await where(opts);
    const oldPassword = await readPassword({ file: opts.oldPasswordFile, envName: OLD_PASSWORD_ENV, prompt: 'Current password', confirm: false });
    const newPassword = await readPassword({ file: opts.passwordFile, envName: PASSWORD_ENV, prompt: 'New password', confirm: true });
    await withAdminSession(w, ({ backend }) => changePassword(backend.accounts, name, oldPassword, newPassword, kdfOverride()));
    await writeStdout(`changed the password of ${name}\n`);
  }));

  for (const [verbName, disabled] of [['disable', true], ['enable', false]] as const) {
    addWhere(user.command(verbName).description(`${verbName} a user${disabled ? ' (their tokens are revoked)' : ''}`).argument('<name>'))
      .action(verb(async (name: string, opts: Where) => {
        await withAdminSession(await where(opts), ({ backend }) => setUserDisabled(backend.accounts, name, disabled));
        await writeStdout(`${verbName}d user ${name}\n`);
      }));
  }

  addWhere(
    user
      .command('delete')
      .description('delete a user and ALL their data (metadata and blocks)')
      .argument('<name>')
      .option('--yes', 'really delete'),
  ).action(verb(async (name: string, opts: Where & { yes?: boolean }) => {
    if (!opts.yes) throw new UsageError(`deleting ${name} removes all their files: add --yes to confirm`);
    await withAdminSession(await where(opts), ({ backend, spaces }) => deleteUser(backend.accounts, spaces, name));
    await writeStdout(`deleted user ${name}\n`);
  }));
}
