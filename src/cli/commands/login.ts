import type { Command } from 'commander';
import * as fs from 'node:fs/promises';
import { login, logout } from '../../remote/loginFlow.js';
import { promptHidden } from '../../volume/tty.js';
import { SecretError } from '../../volume/secret.js';
import { writeStdout } from '../output.js';
import { verb } from '../verb.js';

export const PASSWORD_ENV = 'MOSAICFS_PASSWORD';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('log in to a mosaicfs server and save the session (token and volume key) for mount and the CLI')
    .argument('<url>', 'server URL, http://host:port or https://host:port')
    .requiredOption('--user <name>', 'user name on the server')
    .option('--password-file <file>', `read the password from this file (default: ${PASSWORD_ENV} or a prompt)`)
    .option('--ca <file>', 'CA certificate (PEM) to trust for an https server')
    .addHelpText('after', '\nThe session is saved under $MOSAICFS_CONFIG_DIR (default ~/.config/mosaicfs)/sessions, mode 0600:\n' +
      'it holds the unwrapped volume key like an SSH private key; `mosaicfs logout` revokes and deletes it.')
    .action(verb(async (url: string, opts: { user: string; passwordFile?: string; ca?: string }) => {
      const password = await readPassword(opts.passwordFile, `Password for ${opts.user} at ${url}: `);
      const s = await login({ url, user: opts.user, password, caFile: opts.ca });
      await writeStdout(`logged in to ${s.url} as ${s.user} (session valid until ${new Date(s.expiresAt).toISOString()})\n`);
    }));

  program
    .command('logout')
    .description('revoke the saved session on the server and delete it from this machine')
    .argument('<url>', 'server URL')
    .option('--user <name>', 'which user (needed when several are logged in to that server)')
    .action(verb(async (url: string, opts: { user?: string }) => {
      const s = await logout({ url, user: opts.user });
      await writeStdout(`logged out of ${s.url} (${s.user})\n`);
    }));
}

/** --password-file (first line), then $MOSAICFS_PASSWORD, then a prompt on the terminal without echo. */
export async function readPassword(file: string | undefined, prompt: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let password: string;
  let source: string;
  if (file !== undefined) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw new SecretError(`cannot read password file ${file}: ${(err as Error).message}`);
    }
    password = text.split('\n')[0].replace(/\r$/, '');
    source = `password file ${file}`;
  } else if (env[PASSWORD_ENV] !== undefined) {
    password = env[PASSWORD_ENV]!;
    source = `$${PASSWORD_ENV}`;
  } else {
    password = await promptHidden('/dev/tty', prompt).catch((err: NodeJS.ErrnoException) => {
      if (['ENXIO', 'ENOENT', 'ENOTTY', 'EACCES', 'ENODEV'].includes(err.code ?? '')) {
        throw new SecretError(`no password given and no terminal to ask on: use --password-file FILE or set ${PASSWORD_ENV}`);
      }
      throw err;
    });
    source = 'the terminal';
  }
  if (password.length === 0) throw new SecretError(`the password from ${source} is empty`);
  return password;
}
