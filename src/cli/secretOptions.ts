import type { Command } from 'commander';

/** How the user supplies the volume secret on the command line (MOSAICFS_PASSPHRASE also works). */
export interface SecretOptions {
  passphraseFile?: string;
  keyFile?: string;
}

export function addSecretOptions(cmd: Command): Command {
  return cmd
    .option('--passphrase-file <file>', 'read the passphrase from this file (default: MOSAICFS_PASSPHRASE or a prompt)')
    .option('--key-file <file>', 'use this key file instead of a passphrase');
}

export function secretOptionsOf(opts: { passphraseFile?: string; keyFile?: string }): SecretOptions {
  return { passphraseFile: opts.passphraseFile, keyFile: opts.keyFile };
}
