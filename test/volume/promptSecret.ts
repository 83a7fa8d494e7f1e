/**
 * Child process for the prompt test: resolves the secret with no flags and no environment, so it
 * must ask on the terminal; prints the passphrase in hex (so it cannot be confused with an echo).
 */
import { resolveSecret } from '../../src/volume/secret.js';

try {
  const secret = await resolveSecret({ confirm: process.argv[2] === 'confirm', env: {} });
  const pass = 'passphrase' in secret ? secret.passphrase : '';
  process.stdout.write(`RESULT ${Buffer.from(pass).toString('hex')}\n`);
} catch (err) {
  process.stdout.write(`ERROR ${(err as Error).name}: ${(err as Error).message}\n`);
}
