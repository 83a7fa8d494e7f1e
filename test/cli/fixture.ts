import assert from 'node:assert/strict';
import path from 'node:path';
import { describeRun, runCli, type RunOptions, type RunResult } from '../helpers/run.js';
import { makeTempDir, type AfterHook } from '../helpers/tmp.js';

/** Block size of test volumes: small enough that a few MiB span several blocks. */
export const TEST_BLOCK_SIZE = '1M';

/** Run the built CLI and assert its exit code; returns the result for further checks. */
export async function cli(expectCode: number, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runCli(args, opts);
  const what = `mosaicfs ${args.join(' ')}`;
  assert.equal(r.code, expectCode, describeRun(what, r));
  if (expectCode !== 0 && r.stderr !== '' && opts.env?.MOSAICFS_DEBUG !== '1') {
    // A failure must be the CLI's own report, not a crash that happens to exit non-zero.
    // (fsck reports its problems on stdout only.)
    assert.match(r.stderr, /^mosaicfs: |^Usage: mosaicfs/m, describeRun(`${what}: expected a mosaicfs: message`, r));
    assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, describeRun(`${what}: no stack trace`, r));
  }
  return r;
}

export interface TestVolume {
  /** Temp folder holding the volume and local files. */
  root: string;
  /** The volume folder. */
  vol: string;
  /** `VOL:/path` operand for a path inside the volume. */
  at(p: string): string;
  /** A path in the temp folder, outside the volume. */
  local(...parts: string[]): string;
}

/** A fresh temp folder with an initialised volume in it, removed by `after`. */
export async function newVolume(after: AfterHook): Promise<TestVolume> {
  const root = await makeTempDir(after, 'mosaicfs-cli-');
  const vol = path.join(root, 'vol');
  await cli(0, ['init', vol, '--block-size', TEST_BLOCK_SIZE]);
  return { root, vol, at: (p) => `${vol}:${p}`, local: (...parts) => path.join(root, ...parts) };
}

/** The JSON a `--json` command printed. */
export function json<T = Record<string, unknown>>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(describeRun('expected JSON on stdout', r));
  }
}
