import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { VolumeError } from '../errors.js';
import { isProcessAlive } from '../util/processAlive.js';

export const LOCK_FILE = 'lock';

/** A lock file that cannot be parsed is treated as being written for this long, then as stale. */
const UNREADABLE_LOCK_GRACE_MS = 10_000;
const TAKEOVER_ATTEMPTS = 3;

/** What the `lock` file of a volume holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** What holds the volume, e.g. "mount /home/me/mnt" or "cli put". */
  owner: string;
  /** ISO date the lock was taken. */
  since: string;
  /** Tells this holder's lock apart from a later one with a reused pid. */
  nonce: string;
}

export interface VolumeLock {
  readonly info: LockInfo;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** The current holder of the volume's lock, or null if it is not locked (or the file is unreadable). */
export async function readLock(dir: string): Promise<LockInfo | null> {
  try {
    return parseLock(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Takes the volume's exclusive lock. The lock file appears atomically with its full content (a
 * hard link of a finished temp file, which fails if a lock exists). A lock held by a process that
 * no longer runs on this host is taken over; any other holder makes this a VolumeError.
 */
export async function acquireLock(dir: string, owner: string): Promise<VolumeLock> {
  const lockPath = path.join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    owner,
    since: new Date().toISOString(),
    nonce: randomBytes(12).toString('hex'),
  };
  const content = JSON.stringify(info) + '\n';
  const tmp = path.join(dir, `.lock.${info.nonce}.tmp`);
  await fs.writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
      if (await createLockFile(tmp, lockPath, content)) return heldLock(lockPath, info);
      let existing: string;
      try {
        existing = await fs.readFile(lockPath, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      const holder = parseLock(existing);
      if (holder ? holderIsAlive(holder) : await isFresh(lockPath)) throw inUse(dir, holder);
      await removeIfUnchanged(dir, lockPath, existing);
    }
    throw new VolumeError(`could not lock volume ${dir}: another process keeps taking the lock`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** true if the lock file was created (by hard link, or O_EXCL where links are not supported). */
async function createLockFile(tmp: string, lockPath: string, content: string): Promise<boolean> {
  try {
    await fs.link(tmp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  try {
    await fs.writeFile(lockPath, content, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Removes a stale lock only if it still has the content we judged stale: the lock is moved aside
 * first (atomic), then checked; a fresh lock moved by mistake is put back.
 */
async function removeIfUnchanged(dir: string, lockPath: string, staleContent: string): Promise<void> {
  const aside = path.join(dir, `.lock.stale.${randomBytes(6).toString('hex')}`);
  try {
    await fs.rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if ((await fs.readFile(aside, 'utf8')) !== staleContent) {
      await fs.link(aside, lockPath).catch(() => undefined);
    }
  } finally {
    await fs.rm(aside, { force: true });
  }
}

function heldLock(lockPath: string, info: LockInfo): VolumeLock {
  let released = false;
  return {
    info,
    async release() {
      if (released) return;
      released = true;
      try {
        const current = parseLock(await fs.readFile(lockPath, 'utf8'));
        if (current?.nonce === info.nonce) await fs.rm(lockPath, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}

function holderIsAlive(holder: LockInfo): boolean {
  if (holder.host !== os.hostname()) return true; // cannot tell: assume it runs
  if (holder.pid === process.pid) return true; // this very process holds the volume already
  return isProcessAlive(holder.pid);
}

async function isFresh(file: string): Promise<boolean> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs < UNREADABLE_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

function inUse(dir: string, holder: LockInfo | null): VolumeError {
  if (!holder) return new VolumeError(`volume ${dir} is being locked by another process; try again`);
  const where = holder.host === os.hostname() ? '' : ` on host ${holder.host}`;
  const hint = where ? `; if that host is down, remove ${path.join(dir, LOCK_FILE)}` : '';
  return new VolumeError(`volume ${dir} is in use by pid ${holder.pid}${where} (${holder.owner})${hint}`);
}

function parseLock(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0) return null;
    if (typeof v.host !== 'string') return null;
    return {
      pid: v.pid,
      host: v.host,
      owner: typeof v.owner === 'string' ? v.owner : 'unknown',
      since: typeof v.since === 'string' ? v.since : '',
      nonce: typeof v.nonce === 'string' ? v.nonce : '',
    };
  } catch {
    return null;
  }
}
