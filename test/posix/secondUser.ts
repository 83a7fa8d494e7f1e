/**
 * Shared by the differential suites that run as a second, non-root user: a Python script run as
 * root or as uid SECOND_USER (setpriv), and a mosaicfs mount with allow_other beside a local folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { isMountedSync, type Sandbox } from '../fuse/harness.js';

export const SECOND_USER = 1000;

/**
 * Python helpers for the scripts (after `import os, sys, errno` and `b = sys.argv[1]`): P(path) inside
 * the case folder, step(name, fn) prints `name: ok [result]` or `name: ERRNO`.
 */
export const PY_STEPS = String.raw`
def P(p): return os.path.join(b, p)
def step(name, fn):
    try:
        r = fn()
        print(name + ': ok' + ('' if r is None else ' ' + str(r)))
    except OSError as e:
        print(name + ': ' + errno.errorcode[e.errno])
`;

/** Runs `script` with argv[1] = dir; returns its stdout. Fails the test if it exits non-zero. */
export function runPython(script: string, dir: string, asUser: boolean): string {
  // Debian's python3: a per-user interpreter (pyenv under /root) is not reachable by the second user.
  const py = ['/usr/bin/python3', '-c', script, dir];
  const argv = asUser ? ['setpriv', `--reuid=${SECOND_USER}`, `--regid=${SECOND_USER}`, '--clear-groups', ...py] : py;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ').slice(0, 80)}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh volume mounted with allow_other and a local folder, each with a folder `case` of `caseMode`. */
export async function mountBesideLocal(sb: Sandbox, caseMode: number): Promise<{ mnt: string; local: string }> {
  const vol = await sb.volume();
  const mnt = await sb.dir('mnt');
  const local = await sb.dir('local');
  await fs.chmod(sb.root, 0o755); // the second user must reach both folders
  sb.track(mnt);
  const r = await sb.run(['mount', '-o', 'allow_other', vol, mnt]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(isMountedSync(mnt));
  for (const d of [mnt, local]) {
    await fs.mkdir(path.join(d, 'case'));
    await fs.chmod(path.join(d, 'case'), caseMode);
  }
  return { mnt, local };
}
