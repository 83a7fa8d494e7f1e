import { spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Last-resort cleanup when a test file dies (uncaught failure, timeout, SIGTERM from the runner):
 * lazily unmount every mount still registered, SIGKILL every child still alive, remove temp dirs.
 * Tests register normal cleanup with node:test after()/t.after; this is the safety net behind it.
 */
const mounts = new Set<string>();
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function trackMount(mountpoint: string): void {
  installHandlers();
  mounts.add(mountpoint);
}

export function untrackMount(mountpoint: string): void {
  mounts.delete(mountpoint);
}

export function trackChild(child: ChildProcess): void {
  installHandlers();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function trackTempDir(dir: string): void {
  installHandlers();
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}

/** Synchronous, so it can run inside process.on('exit'). */
export function emergencyCleanup(): void {
  for (const m of mounts) spawnSync('fusermount', ['-u', '-z', m], { stdio: 'ignore' });
  mounts.clear();
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  tempDirs.clear();
}

let installed = false;
function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      emergencyCleanup();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}
