/**
 * READDIRPLUS through KernelFuseAdapter: one readdir page carries each entry's attributes, so
 * `ls -l` / `stat` of a whole directory makes no lookup per entry, the kernel's lookup counts stay
 * right (one per entry handed out), and a caller without search permission still gets nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO, S_IFREG } from '../../../src/meta/MetaStore.js';
import { now } from '../../../src/util/time.js';
import { ROOT_CTX, type VfsApi } from '../../../src/vfs/types.js';
import { mountKernel, overrideVfs, type KernelMount } from './harness.js';

const COUNT = 3000;

/** Parents of every vfs.lookup, and the withAttrs flag of every vfs.readdir. */
const seen = { lookupParents: [] as number[], readdirFlags: [] as Array<boolean | undefined> };

function counting(vfs: VfsApi): VfsApi {
  return overrideVfs(vfs, {
    lookup: (...a) => { seen.lookupParents.push(a[1]); return vfs.lookup(...a); },
    readdir: (...a) => { seen.readdirFlags.push(a[4]); return vfs.readdir(...a); },
  });
}

/** The session's lookup counts (private: read here to check that READDIRPLUS counts each entry once). */
function kernelLookups(m: KernelMount): Map<number, number> {
  return (m.adapter as unknown as { session: { lookups: Map<number, number> } }).session.lookups;
}

describe('kernel binding: READDIRPLUS serves attributes from the readdir page', () => {
  let m: KernelMount;
  let big: number;
  const want = new Map<string, { ino: number; size: number; uid: number }>();

  before(async () => {
    // Long entry/attr timeouts: nothing expires while a listing is checked, so every kernel lookup seen is a real miss.
    m = await mountKernel({ options: 'entry_timeout=60,attr_timeout=60,allow_other', wrap: counting });
    const vfs = m.volume.vfs;
    big = (await vfs.mkdir(ROOT_CTX, ROOT_INO, 'big', 0o755)).ino;
    for (let i = 0; i < COUNT; i++) {
      const name = `entry-${String(i).padStart(5, '0')}`;
      const a = await m.volume.meta.create(big, name, { mode: S_IFREG | 0o644, uid: 1000 + (i % 7), gid: 100, now: now() });
      const size = i % 3 === 0 ? (await m.volume.meta.truncate(a.ino, i * 11, now())).size : 0;
      want.set(name, { ino: a.ino, size, uid: a.uid });
    }
    const closed = await vfs.mkdir(ROOT_CTX, ROOT_INO, 'closed', 0o744); // others may read, not search
    await vfs.mknod(ROOT_CTX, closed.ino, 'inside', S_IFREG | 0o644, 0);
  });
  after(async () => { await m?.dispose(); });

  it('stat of every entry after a listing: right attributes, (almost) no lookup per entry', async () => {
    seen.lookupParents.length = 0;
    seen.readdirFlags.length = 0;
    // One process lists and stats at once (as ls -l does), so the kernel's dentries are still there.
    const py = `import os\nfor e in sorted(os.scandir('big'), key=lambda e: e.name):\n  s = os.lstat(e.path)\n  print(e.path, s.st_ino, s.st_size, s.st_uid)`;
    const out = await m.sh(`python3 -c "${py}"`);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, COUNT);
    for (const line of lines) {
      const [p, ino, size, uid] = line.split(' ');
      const w = want.get(p.slice('big/'.length));
      assert.deepEqual([Number(ino), Number(size), Number(uid)], [w?.ino, w?.size, w?.uid], line);
    }
    assert.ok(seen.readdirFlags.includes(true), 'the kernel asked READDIRPLUS and the adapter asked the VFS for attributes');
    // Without READDIRPLUS attributes every entry is one lookup (COUNT). A few may still happen when
    // something else on this machine drops the kernel's dentries meanwhile (echo 2 > drop_caches).
    const perEntry = seen.lookupParents.filter((p) => p === big).length;
    assert.ok(perEntry < COUNT / 20, `lookups of entries of big: ${perEntry} of ${COUNT}`);
    const counts = kernelLookups(m);
    // Each entry handed out counts one kernel lookup (a dentry dropped and looked up again counts one anew).
    for (const { ino } of want.values()) assert.equal(counts.get(ino), 1, `kernel lookup count of inode ${ino}`);
  });

  it('ls -l by a caller without search permission fails per entry, as before', async () => {
    await assert.rejects(m.sh('ls -l closed', { uid: 1001 }), (err: Error & { stderr?: string }) => {
      assert.match(String(err.stderr), /cannot access 'closed\/inside': Permission denied/);
      return true;
    });
    const names = await m.sh('ls closed', { uid: 1001 });
    assert.equal(names.trim(), 'inside');
  });
});
