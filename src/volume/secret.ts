import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { MIN_KEY_FILE_BYTES } from '../crypto/keys.js';
import { promptHidden } from './tty.js';

/** What unlocks a volume: a passphrase, or a key file (any file of at least 32 bytes). */
export type VolumeSecret = { passphrase: string } | { keyFile: string };

export const PASSPHRASE_ENV = 'MOSAICFS_PASSPHRASE';

/** The user gave no usable secret (empty passphrase, unreadable file, no terminal to ask on...). */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export interface SecretOptions {
  passphraseFile?: string;
  keyFile?: string;
  /** Ask twice when prompting (for `init`). */
  confirm?: boolean;
  /** Environment to read MOSAICFS_PASSPHRASE from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Terminal to prompt on (default /dev/tty). */
  ttyPath?: string;
}

/**
 * Where the secret comes from, first match wins: --key-file, --passphrase-file (its first line),
 * $MOSAICFS_PASSPHRASE, then a prompt on the terminal without echo.
 */
export async function resolveSecret(opts: SecretOptions = {}): Promise<VolumeSecret> {
  if (opts.keyFile !== undefined) return { keyFile: await checkKeyFile(opts.keyFile) };
  if (opts.passphraseFile !== undefined) {
    return { passphrase: nonEmpty(await readFirstLine(opts.passphraseFile), `passphrase file ${opts.passphraseFile}`) };
  }
  const fromEnv = (opts.env ?? process.env)[PASSPHRASE_ENV];
  if (fromEnv !== undefined) return { passphrase: nonEmpty(fromEnv, `$${PASSPHRASE_ENV}`) };
  return { passphrase: await promptPassphrase(opts.confirm ?? false, opts.ttyPath ?? '/dev/tty') };
}

async function checkKeyFile(file: string): Promise<string> {
  const abs = path.resolve(file);
  let size: number;
  try {
    const st = await fs.stat(abs);
    if (!st.isFile()) throw new SecretError(`key file ${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof SecretError) throw err;
    throw new SecretError(`cannot read key file ${file}: ${(err as Error).message}`);
  }
  if (size < MIN_KEY_FILE_BYTES) {
    throw new SecretError(`key file ${file} is too short (${size} bytes; at least ${MIN_KEY_FILE_BYTES} needed)`);
  }
  return abs;
}

async function readFirstLine(file: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new SecretError(`cannot read passphrase file ${file}: ${(err as Error).message}`);
  }
  const end = text.indexOf('\n');
  const line = end === -1 ? text : text.slice(0, end);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function nonEmpty(passphrase: string, source: string): string {
  if (passphrase.length === 0) throw new SecretError(`the passphrase from ${source} is empty; an empty passphrase is not allowed`);
  return passphrase;
}

async function promptPassphrase(confirm: boolean, ttyPath: string): Promise<string> {
  const noTerminal = (): SecretError =>
    new SecretError(
      `no passphrase given and no terminal to ask on: use --passphrase-file FILE, --key-file FILE, or set ${PASSPHRASE_ENV}`,
    );
  const first = await promptHidden(ttyPath, 'Passphrase: ').catch((err) => {
    throw isNoTerminal(err) ? noTerminal() : err;
  });
  nonEmpty(first, 'the terminal');
  if (confirm) {
    const again = await promptHidden(ttyPath, 'Repeat passphrase: ');
    if (again !== first) throw new SecretError('the passphrases do not match');
  }
  return first;
}

function isNoTerminal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENXIO' || code === 'ENOENT' || code === 'ENOTTY' || code === 'EACCES' || code === 'ENODEV';
}
