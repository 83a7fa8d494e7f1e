import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { isProcessAlive } from '../../util/processAlive.js';

/** Folder (inside the store) where puts write before renaming into place. */
export const TEMP_DIR = '.tmp';

/** A temp file of a live process is only removed once it is this old (the pid may have been reused). */
const MAX_TEMP_AGE_MS = 60 * 60 * 1000;

/**
 * Removes temp files left by puts that never finished: those named after a process that no longer
 * exists, and any older than an hour. Temp files are named `<pid>.<random>`.
 */
export async function removeStaleTempFiles(tmpDir: string): Promise<number> {
  let removed = 0;
  const nowMs = Date.now();
  for (const name of await fs.readdir(tmpDir)) {
    const file = path.join(tmpDir, name);
    const pid = Number(name.split('.', 1)[0]);
    let stale = !Number.isSafeInteger(pid) || pid <= 0 || !isProcessAlive(pid);
    if (!stale) {
      try {
        stale = nowMs - (await fs.lstat(file)).mtimeMs > MAX_TEMP_AGE_MS;
      } catch {
        continue; // vanished: renamed into place or removed by its writer
      }
    }
    if (stale) {
      await fs.rm(file, { force: true, recursive: true });
      removed++;
    }
  }
  return removed;
}
