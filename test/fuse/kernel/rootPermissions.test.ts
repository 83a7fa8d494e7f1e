/**
 * A kernel-binding mount made by root without allow_other runs without default_permissions (the
 * VFS checks every operation; see resolveDefaultPermissions). Root's rules must hold there exactly
 * as on a local folder: read and write whatever the mode, search any directory, but execute (and
 * access(X_OK)) a file only if some x bit is set.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { mountKernel, type KernelMount } from './harness.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** Each line: a check and what it gave (exit status of the command, output of cat/ls). */
const SCRIPT = String.raw`
r() { "$@" >/dev/null 2>&1; echo "$* -> $?"; }
printf '#!/bin/sh\necho ran\n' > script && chmod 644 script
r test -x script
r ./script
chmod 100 script; r test -x script; echo "$(./script 2>&1)"
echo secret > locked && chmod 000 locked
echo "$(cat locked)"; r sh -c 'echo more >> locked'; r test -r locked; r test -w locked; r test -x locked
mkdir closed && echo inside > closed/f && chmod 000 closed
r ls closed; echo "$(cat closed/f)"; r touch closed/new; r test -x closed
chmod 755 closed && rm -r closed
`;

describe('kernel binding, root mount without allow_other: no default_permissions, root rules intact', { skip: isRoot ? false : 'needs root (a normal user mounts with default_permissions)' }, () => {
  let m: KernelMount;
  let local: string;
  before(async () => {
    m = await mountKernel();
    local = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-rootperm-'));
  });
  after(async () => {
    await m?.dispose();
    if (local) await rm(local, { recursive: true, force: true });
  });

  it('mounts without default_permissions', async () => {
    const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === m.mnt);
    assert.ok(line, 'the mount is listed');
    assert.doesNotMatch(line, /default_permissions/);
  });

  it('root reads and writes any file, searches any directory, and executes only files with an x bit, as on a local folder', async () => {
    const onMount = await m.sh(SCRIPT);
    const { stdout: onLocal } = await run('sh', ['-c', `cd "${local}" && ${SCRIPT}`]);
    assert.equal(onMount, onLocal);
    assert.match(onMount, /test -x script -> 1/, 'the local folder refuses x without an x bit');
    assert.match(onMount, /^ran$/m);
  });
});
