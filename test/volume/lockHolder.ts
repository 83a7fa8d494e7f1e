/**
 * Child process for lock tests: takes the lock of the volume folder argv[2] with owner argv[3],
 * prints "locked" or "busy <message>", then holds the lock until stdin closes.
 */
import { acquireLock } from '../../src/volume/lock.js';

const [dir, owner] = process.argv.slice(2);
try {
  const lock = await acquireLock(dir, owner);
  process.stdout.write('locked\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    void lock.release().then(() => process.exit(0));
  });
} catch (err) {
  process.stdout.write(`busy ${(err as Error).message}\n`);
  process.exit(0);
}
