/**
 * A directory of 100,000 entries lists completely through the kernel (the adapter pages through
 * vfs.readdir and hands libfuse2 every name at once). The entries are made in-process, straight in
 * the MetaStore (through the mount, or even the VFS, that would take minutes on a busy machine).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openVolumeSession } from '../../src/cli/session.js';
import { ROOT_INO, S_IFREG } from '../../src/meta/MetaStore.js';
import { now } from '../../src/util/time.js';
import { ROOT_CTX } from '../../src/vfs/types.js';
import { isMountedSync, PASSPHRASE, Sandbox } from './harness.js';

const sb = new Sandbox();
process.on('exit', () => sb.cleanup());
const COUNT = 100_000;

describe('a directory of 100,000 entries through the mount', { timeout: 300_000 }, () => {
  let vol: string;
  let mnt: string;

  before(async () => {
    vol = await sb.volume();
    mnt = await sb.dir('mnt');
    const passphraseFile = sb.p('pass');
    await fs.writeFile(passphraseFile, PASSPHRASE + '\n');
    const s = await openVolumeSession(vol, { passphraseFile }, 'test setup');
    try {
      const dir = await s.vfs.mkdir(ROOT_CTX, ROOT_INO, 'big', 0o755);
      const node = { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: now() };
      for (let i = 0; i < COUNT; i++) await s.volume.meta.create(dir.ino, `f${i}`, node);
    } finally {
      await s.close();
    }
  });
  after(() => sb.cleanup());

  it('readdir returns every name exactly once, and entries resolve', async () => {
    const r = await sb.run(['mount', vol, mnt]);
    assert.equal(r.code, 0, r.stderr);
    try {
      const names = await fs.readdir(path.join(mnt, 'big'));
      assert.equal(names.length, COUNT);
      const unique = new Set(names);
      assert.equal(unique.size, COUNT);
      for (const i of [0, 1, 4095, 4096, 4097, 54321, COUNT - 1]) assert.ok(unique.has(`f${i}`), `f${i} listed`);
      assert.ok((await fs.stat(path.join(mnt, 'big', `f${COUNT - 1}`))).isFile());
      const withTypes = await fs.readdir(path.join(mnt, 'big'), { withFileTypes: true });
      assert.ok(withTypes.every((d) => d.isFile()), 'd_type comes from the readdir stats');
    } finally {
      const un = await sb.run(['umount', mnt]);
      assert.equal(un.code, 0, un.stderr);
      assert.equal(isMountedSync(mnt), false);
    }
  });
});
