import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { VolumeError } from '../errors.js';
import { DEFAULT_SECRET_ENV } from './protocol.js';

/** The cluster secret from a file (relative to `baseDir`) or an environment variable; at least 16 characters. */
export async function readClusterSecret(opts: { secretFile?: string; secretEnv?: string; baseDir?: string }): Promise<string> {
  let secret: string | undefined;
  let where: string;
  if (opts.secretFile) {
    const file = path.resolve(opts.baseDir ?? process.cwd(), opts.secretFile);
    where = file;
    try {
      secret = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new VolumeError(`cannot read the cluster secret file ${file}: ${(err as Error).message}`);
    }
  } else {
    const env = opts.secretEnv ?? DEFAULT_SECRET_ENV;
    where = `$${env}`;
    secret = process.env[env]?.trim();
    if (!secret) throw new VolumeError(`no cluster secret: give a secret file or set ${env}`);
  }
  if (secret.length < 16) throw new VolumeError(`the cluster secret in ${where} is too short (at least 16 characters)`);
  return secret;
}
