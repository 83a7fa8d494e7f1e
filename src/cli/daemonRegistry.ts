/**
 * Which daemon serves which mount point: one small JSON file per mount point in a private runtime
 * folder ($MOSAICFS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/mosaicfs, else <tmp>/mosaicfs-<uid>).
 * `umount` reads it to find the daemon to wait for (and the volume, whose lock names the pid).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export interface DaemonRecord {
  pid: number;
  mountpoint: string;
  volumeDir: string;
  since: string;
}

export function runtimeDir(): string {
  if (process.env.MOSAICFS_RUNTIME_DIR) return process.env.MOSAICFS_RUNTIME_DIR;
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'mosaicfs');
  return path.join(os.tmpdir(), `mosaicfs-${process.getuid?.() ?? 0}`);
}

function recordPath(mountpoint: string): string {
  const key = createHash('sha256').update(mountpoint).digest('hex').slice(0, 24);
  return path.join(runtimeDir(), `mount-${key}.json`);
}

export async function writeDaemonRecord(rec: DaemonRecord): Promise<void> {
  await fs.mkdir(runtimeDir(), { recursive: true, mode: 0o700 });
  const file = recordPath(rec.mountpoint);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(rec) + '\n', { mode: 0o600 });
  await fs.rename(tmp, file);
}

export async function readDaemonRecord(mountpoint: string): Promise<DaemonRecord | null> {
  try {
    const v = JSON.parse(await fs.readFile(recordPath(mountpoint), 'utf8')) as DaemonRecord;
    return typeof v.pid === 'number' && v.mountpoint === mountpoint ? v : null;
  } catch {
    return null;
  }
}

/** Remove the record if it is still the one of `pid`. */
export async function removeDaemonRecord(mountpoint: string, pid: number): Promise<void> {
  const rec = await readDaemonRecord(mountpoint);
  if (rec && rec.pid === pid) await fs.rm(recordPath(mountpoint), { force: true });
}
