/**
 * Kernel cache invalidation (FUSE_NOTIFY_INVAL_INODE / _ENTRY) through KernelFuseAdapter as a
 * CacheInvalidator: with long cache timeouts, a change made behind the kernel's back (straight
 * through the VFS, as another client's change arrives on a remote mount) stays invisible until the
 * adapter invalidates, then shows at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FUSE_ROOT_ID } from '../../../src/fuse/kernel/abi.js';
import { encodeInvalEntry, encodeInvalInode } from '../../../src/fuse/kernel/notify.js';
import type { KernelFuseAdapter } from '../../../src/fuse/KernelFuseAdapter.js';
import { ROOT_CTX, type VfsApi } from '../../../src/vfs/types.js';
import { mountKernel, overrideVfs, type KernelMount } from './harness.js';

describe('kernel binding: cache invalidation', () => {
  let m: KernelMount;
  let adapterRef: KernelFuseAdapter | undefined;
  /** Names whose create() invalidates an entry of its own directory from inside the request. */
  const triggerName = 'trigger-inside-handler';
  before(async () => {
    m = await mountKernel({
      options: 'attr_timeout=60,entry_timeout=60,kernel_cache',
      wrap: (vfs) => wrapCreate(vfs, (parent, name) => {
        if (name === triggerName) {
          adapterRef!.entry(parent, 'anything');
          adapterRef!.inode(parent);
        }
      }),
    });
    adapterRef = m.adapter;
  });
  after(async () => { await m?.dispose(); });

  it('encodes notifications as fuse.h lays them out', () => {
    const i = encodeInvalInode(0x1_0000_0002, 0, 0);
    assert.equal(i.length, 40);
    assert.equal(i.readUInt32LE(0), 40);
    assert.equal(i.readInt32LE(4), 2); // FUSE_NOTIFY_INVAL_INODE
    assert.equal(i.readBigUInt64LE(8), 0n); // unique 0: unsolicited
    assert.equal(i.readBigUInt64LE(16), 0x1_0000_0002n);
    const e = encodeInvalEntry(7, 'né');
    assert.equal(e.length, 16 + 16 + 3 + 1);
    assert.equal(e.readInt32LE(4), 3); // FUSE_NOTIFY_INVAL_ENTRY
    assert.equal(e.readBigUInt64LE(16), 7n);
    assert.equal(e.readUInt32LE(24), 3); // name length in bytes, without the NUL
    assert.equal(e.subarray(32, 35).toString(), 'né');
    assert.equal(e[35], 0);
  });

  it('a cached attribute is fetched again after the inode is invalidated', async () => {
    await m.sh('printf 12345 > f');
    assert.equal(await m.sh('stat -c %s f'), '5\n');
    const { ino } = await m.volume.vfs.lookup(ROOT_CTX, FUSE_ROOT_ID, 'f');
    await m.volume.vfs.setattr(ROOT_CTX, ino, { size: 9 }); // behind the kernel's back
    assert.equal(await m.sh('stat -c %s f'), '5\n', 'the kernel still serves its cached attributes (60 s)');
    m.adapter.inode(ino);
    await m.adapter.invalidationsDone();
    assert.equal(await m.sh('stat -c %s f'), '9\n');
  });

  it('cached pages are dropped with the inode', async () => {
    await m.sh('printf aaaa > p');
    assert.equal(await m.sh('cat p'), 'aaaa');
    const { ino } = await m.volume.vfs.lookup(ROOT_CTX, FUSE_ROOT_ID, 'p');
    const fh = (await m.volume.vfs.open(ROOT_CTX, ino, 1 /* O_WRONLY */)).fh;
    await m.volume.vfs.write(ROOT_CTX, fh, 0, Buffer.from('bbbb'));
    await m.volume.vfs.release(ROOT_CTX, fh);
    assert.equal(await m.sh('cat p'), 'aaaa', 'kernel_cache keeps the old pages');
    m.adapter.inode(ino);
    await m.adapter.invalidationsDone();
    assert.equal(await m.sh('cat p'), 'bbbb');
  });

  it('a cached name is looked up again after the entry is invalidated', async () => {
    await m.sh('mkdir -p d && echo x > d/old');
    assert.match(await m.sh('stat -c %i d/old'), /^\d+\n$/);
    const d = await m.volume.vfs.lookup(ROOT_CTX, FUSE_ROOT_ID, 'd');
    await m.volume.vfs.rename(ROOT_CTX, d.ino, 'old', d.ino, 'new', 0);
    assert.match(await m.sh('stat -c %i d/old'), /^\d+\n$/, 'the kernel still has the cached entry (60 s)');
    m.adapter.entry(d.ino, 'old');
    m.adapter.inode(d.ino);
    await m.adapter.invalidationsDone();
    await assert.rejects(m.sh('stat d/old'), /No such file/);
    assert.equal(await m.sh('cat d/new'), 'x\n');
  });

  it('invalidating inodes and names the kernel does not know is harmless', async () => {
    const before = m.adapter as unknown as { session: { notifications: { sent: number; ignored: number } } };
    m.adapter.inode(2 ** 40); // never looked up: skipped without a write
    m.adapter.entry(FUSE_ROOT_ID, 'never-seen-name'); // root is known, the name is not: the kernel answers ENOENT
    await m.adapter.invalidationsDone();
    assert.ok(before.session.notifications.ignored >= 1);
    assert.equal(await m.sh('echo ok'), 'ok\n');
  });

  it('an invalidation queued from inside a request on the same directory does not deadlock', async () => {
    await m.sh('mkdir -p lockdir');
    // create() holds the directory's lock in the kernel while it waits for our reply; the queued
    // notification needs that lock, so it may only complete after the reply went out.
    await m.sh(`touch lockdir/${triggerName}`);
    await m.adapter.invalidationsDone();
    assert.equal(await m.sh('ls lockdir'), `${triggerName}\n`);
  });
});

function wrapCreate(vfs: VfsApi, onCreate: (parent: number, name: string) => void): VfsApi {
  return overrideVfs(vfs, {
    create: (ctx, parent, name, mode, flags) => {
      onCreate(parent, name);
      return vfs.create(ctx, parent, name, mode, flags);
    },
  });
}
