// Process, mount and page-cache helpers for the bench orchestrator.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const execFileP = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 60_000,
      cwd: opts.cwd,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr || err.message).trim().slice(0, 2000)}`);
  }
}

/**
 * Starts a long-running process whose output goes to a log FILE, never a pipe:
 * a daemon blocked on a full pipe would hang a FUSE mount and the bench with it.
 */
export function startDaemon(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.on('error', () => {}); // reported through exitCode / waitFor
    return child;
  } finally {
    closeSync(fd);
  }
}

export function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (!isAlive(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut && isAlive(child)) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}

export function mountedAt(mountPoint: string): string | undefined {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    const fields = line.split(' ');
    if (fields[4] === mountPoint) {
      const sep = fields.indexOf('-');
      return fields[sep + 1]; // fs type, e.g. fuse.rclone, fuse.sshfs
    }
  }
  return undefined;
}

export async function waitFor(what: string, check: () => boolean, timeoutMs: number, failEarly?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    const why = failEarly?.();
    if (why) throw new Error(`${what}: ${why}`);
    await sleep(100);
  }
  throw new Error(`${what}: timed out after ${timeoutMs} ms`);
}

/** Unmounts a FUSE mount; falls back to a lazy unmount so a hung daemon never blocks cleanup. */
export async function fuseUnmount(mountPoint: string): Promise<void> {
  if (!mountedAt(mountPoint)) return;
  for (const args of [['-u', mountPoint], ['-uz', mountPoint]]) {
    try {
      await run('fusermount', args, { timeoutMs: 15_000 });
    } catch {
      // try the next, stronger form
    }
    if (!mountedAt(mountPoint)) return;
  }
  await run('umount', ['-l', mountPoint], { timeoutMs: 15_000 }).catch(() => {});
}

export const isRoot = () => process.getuid?.() === 0;

/** Writes dirty pages and drops the page, dentry and inode caches (root only). */
export async function dropCaches(): Promise<boolean> {
  await run('sync', []);
  if (!isRoot()) return false;
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

export interface ProcMemory {
  rssKiB: number;
  hwmKiB: number;
}

export function readProcMemory(pid: number): ProcMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Pids whose command line contains every needle (used to find a daemonised mount process). */
export function findPids(needles: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirNumeric('/proc')) {
    if (entry === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (needles.every((n) => cmdline.includes(n))) pids.push(entry);
    } catch {
      // process went away
    }
  }
  return pids;
}

function readdirNumeric(dir: string): number[] {
  return readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number);
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tailFile(file: string, chars = 1500): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-chars).trim();
  } catch {
    return '';
  }
}
