import { mkdtemp, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trackTempDir, untrackTempDir } from './cleanup.js';

export type AfterHook = (fn: () => Promise<void> | void) => void;

/** A fresh temp dir (real path, so it matches /proc/self/mountinfo); removed at exit unless removeTempDir ran first. */
export async function createTempDir(prefix = 'mosaicfs-test-'): Promise<string> {
  const dir = realpathSync(await mkdtemp(path.join(os.tmpdir(), prefix)));
  trackTempDir(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  untrackTempDir(dir);
}

/** createTempDir, removed by the given node:test after-hook. Never put a live mount inside it. */
export async function makeTempDir(after: AfterHook, prefix?: string): Promise<string> {
  const dir = await createTempDir(prefix);
  after(() => removeTempDir(dir));
  return dir;
}
