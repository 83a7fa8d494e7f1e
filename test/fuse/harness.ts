/**
 * Harness for the FUSE tests: runs the real CLI as a child process (from dist/ via bin/mosaicfs.js
 * when the tests are compiled, from src/ via tsx when run with `npx tsx --test`), makes volumes in
 * temp dirs, and guarantees cleanup: every mount made is unmounted (lazily as a last resort) and
 * every daemon killed, even when a test fails.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initVolume } from '../../src/volume/Volume.js';

export const PASSPHRASE = 'fuse-test-passphrase';
const here = path.dirname(fileURLToPath(import.meta.url));
const fromDist = here.split(path.sep).includes('dist');
export const REPO = findRepoRoot(here);

function findRepoRoot(dir: string): string {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'bin', 'mosaicfs.js'))) return d;
  }
  throw new Error(`cannot find the repository root above ${dir}`);
}

/** argv (after node) that runs the CLI. */
export function cliArgs(args: string[]): string[] {
  return fromDist
    ? [path.join(REPO, 'bin', 'mosaicfs.js'), ...args]
    : ['--import', import.meta.resolve('tsx'), path.join(REPO, 'src', 'cli', 'main.ts'), ...args];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Sandbox {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly mounts = new Set<string>();
  private readonly children = new Set<ChildProcess>();

  constructor() {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'mosaicfs-fuse-'));
    this.env = {
      ...process.env,
      MOSAICFS_PASSPHRASE: PASSPHRASE,
      MOSAICFS_RUNTIME_DIR: path.join(this.root, 'run'),
      MOSAICFS_LOG: 'info',
    };
    delete this.env.MOSAICFS_DEBUG;
  }

  p(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  /** A fresh volume (low scrypt cost so tests stay fast). */
  async volume(name = 'vol'): Promise<string> {
    const dir = this.p(name);
    await initVolume(dir, { secret: { passphrase: PASSPHRASE }, scryptN: 1024 });
    return dir;
  }

  async dir(name: string): Promise<string> {
    const d = this.p(name);
    await fs.mkdir(d, { recursive: true });
    return d;
  }

  /** Run the CLI to completion. */
  run(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    if (args[0] === 'mount' && args[2]) this.mounts.add(path.resolve(this.root, args[2]));
    return new Promise((resolve) => {
      execFile(process.execPath, cliArgs(args), { env: opts.env ?? this.env, timeout: opts.timeoutMs ?? 120_000, cwd: this.root },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
          resolve({ code, stdout, stderr });
        });
    });
  }

  /** Start the CLI and keep it running (foreground mount). */
  start(args: string[]): ChildProcess {
    if (args[0] === 'mount' && args[2]) this.mounts.add(path.resolve(this.root, args[2]));
    const child = spawn(process.execPath, cliArgs(args), { env: this.env, cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  track(mountpoint: string): void {
    this.mounts.add(path.resolve(mountpoint));
  }

  /** Unmount what is still mounted, kill what still runs, remove the temp tree. Synchronous on purpose (also usable on 'exit'). */
  cleanup(): void {
    for (const mnt of this.mounts) {
      if (isMountedSync(mnt)) {
        spawnSync('fusermount', ['-u', mnt]);
        if (isMountedSync(mnt)) spawnSync('fusermount', ['-u', '-z', mnt]);
      }
    }
    for (const child of this.children) child.kill('SIGKILL');
    for (const pid of this.daemonPids()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Pids of daemons this sandbox started (from the runtime records). */
  daemonPids(): number[] {
    const dir = path.join(this.root, 'run');
    if (!existsSync(dir)) return [];
    return spawnSync('sh', ['-c', `cat ${JSON.stringify(dir)}/*.json 2>/dev/null`], { encoding: 'utf8' }).stdout
      .split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { pid: number }).pid);
  }
}

export function isMountedSync(mnt: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === mnt.replace(/ /g, '\\040'));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.charAt(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The pid in a volume's lock file, or null. */
export function lockPid(vol: string): number | null {
  try {
    return (JSON.parse(readFileSync(path.join(vol, 'lock'), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
