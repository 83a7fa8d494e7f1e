import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { FsError } from '../../src/errors.js';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import type { RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as ctx } from '../../src/vfs/types.js';
import { startRemoteFixture, type RemoteFixture } from './remoteFixture.js';

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs = 1000): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null && v !== undefined) return { value: v, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function writeFile(s: RemoteSession, name: string, data: Buffer): Promise<number> {
  const { fh, attr } = await s.vfs.create(ctx, ROOT_INO, name, 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC);
  await s.vfs.write(ctx, fh, 0, data);
  await s.vfs.release(ctx, fh);
  return attr.ino;
}

async function readAll(s: RemoteSession, ino: number): Promise<Buffer> {
  const { fh, attr } = await s.vfs.open(ctx, ino, fsc.O_RDONLY);
  try {
    return await s.vfs.read(ctx, fh, 0, attr.size + 1);
  } finally {
    await s.vfs.release(ctx, fh);
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof FsError && err.code === code);
}

describe('two sessions of one user', () => {
  let fx: RemoteFixture;
  let a: RemoteSession;
  let b: RemoteSession;
  const seen: string[] = [];
  before(async () => {
    fx = await startRemoteFixture();
    a = await fx.open();
    // A long cache timeout: whatever B learns of A's changes comes from the server's events.
    b = await fx.open({ metaTtlMs: 60_000 });
    b.setInvalidator({ inode: (ino) => seen.push(`inode ${ino}`), entry: (p, n) => seen.push(`entry ${p}/${n}`) });
  });
  after(async () => {
    await fx?.stop();
  });

  it("a change on one is seen on the other once its event arrives, and stale cached lookups are dropped", async () => {
    await rejectsWith(b.vfs.lookup(ctx, ROOT_INO, 'news'), 'ENOENT'); // cached as absent for 60 s
    await rejectsWith(b.vfs.lookup(ctx, ROOT_INO, 'news'), 'ENOENT');
    const ino = await writeFile(a, 'news', Buffer.from('first'));
    const appeared = await waitFor('new file visible on B', async () => b.vfs.lookup(ctx, ROOT_INO, 'news'));
    assert.equal(appeared.value.ino, ino);
    assert.ok(appeared.ms < 1000, `took ${appeared.ms} ms`);
    assert.ok(seen.includes(`entry ${ROOT_INO}/news`), `kernel invalidations: ${seen.join(', ')}`);

    // A cached positive entry goes stale: A renames another file over it.
    const other = await writeFile(a, 'other', Buffer.from('second version'));
    await waitFor('other on B', async () => b.vfs.lookup(ctx, ROOT_INO, 'other'));
    assert.equal((await b.vfs.lookup(ctx, ROOT_INO, 'news')).ino, ino); // cached
    await a.vfs.rename(ctx, ROOT_INO, 'other', ROOT_INO, 'news', 0);
    const replaced = await waitFor('rename seen on B', async () => {
      const attr = await b.vfs.lookup(ctx, ROOT_INO, 'news');
      return attr.ino === other ? attr : null;
    });
    assert.ok(replaced.ms < 1000);
    await waitFor('old name gone on B', async () => (await b.vfs.lookup(ctx, ROOT_INO, 'other').then(() => null, () => true)));
    assert.deepEqual(await readAll(b, other), Buffer.from('second version'));

    // Attributes: chmod on A, B's cached attributes are dropped by the event.
    await b.vfs.getattr(ctx, other);
    await a.vfs.setattr(ctx, other, { mode: 0o600 });
    const chmod = await waitFor('mode on B', async () => ((await b.vfs.getattr(ctx, other)).mode & 0o777) === 0o600 || null);
    assert.ok(chmod.ms < 1000);
  });

  it('a directory B made or listed whole answers absent names without a request, until A adds one', async () => {
    const counted: string[] = [];
    const c = await fx.open({ metaTtlMs: 60_000, onRequest: (r) => counted.push(`${r.method} ${r.path}`) });
    const dir = await c.vfs.mkdir(ctx, ROOT_INO, 'fresh', 0o755);
    counted.length = 0;
    await rejectsWith(c.vfs.lookup(ctx, dir.ino, 'later'), 'ENOENT');
    await rejectsWith(c.vfs.lookup(ctx, dir.ino, 'other'), 'ENOENT');
    assert.deepEqual(counted, [], 'a directory this client just made is known empty');
    const mine = await writeFile(c, 'top-level-mine', Buffer.from('x')); // elsewhere: does not matter
    assert.ok(mine > 0);
    // A adds a name in it: the event drops what C knew of the directory.
    const fresh = await a.vfs.lookup(ctx, ROOT_INO, 'fresh');
    const { fh, attr } = await a.vfs.create(ctx, fresh.ino, 'later', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.release(ctx, fh);
    const seenOnC = await waitFor('name added by A visible on C', async () => c.vfs.lookup(ctx, dir.ino, 'later'));
    assert.equal(seenOnC.value.ino, attr.ino);
    await rejectsWith(c.vfs.lookup(ctx, dir.ino, 'other'), 'ENOENT'); // asked again: still absent

    // A whole listing (one page) makes it known again.
    const dh = await c.vfs.opendir(ctx, dir.ino);
    await c.vfs.readdir(ctx, dh, 0, 100);
    await c.vfs.releasedir(ctx, dh);
    counted.length = 0;
    await rejectsWith(c.vfs.lookup(ctx, dir.ino, 'third'), 'ENOENT');
    assert.equal((await c.vfs.lookup(ctx, dir.ino, 'later')).ino, attr.ino);
    assert.deepEqual(counted, [], 'answered from the listing');
  });

  it('two writers: the second open for writing is EBUSY until the first closes; readers see the closed data', async () => {
    const { fh: wa, attr } = await a.vfs.create(ctx, ROOT_INO, 'shared', 0o644, fsc.O_RDWR | fsc.O_CREAT);
    await waitFor('shared on B', async () => b.vfs.lookup(ctx, ROOT_INO, 'shared'));
    await rejectsWith(b.vfs.open(ctx, attr.ino, fsc.O_WRONLY), 'EBUSY');
    await rejectsWith(b.vfs.open(ctx, attr.ino, fsc.O_RDONLY | fsc.O_TRUNC), 'EBUSY');
    const rb = await b.vfs.open(ctx, attr.ino, fsc.O_RDONLY); // readers are fine
    await b.vfs.release(ctx, rb.fh);
    const fromA = randomBytes(200_000);
    await a.vfs.write(ctx, wa, 0, fromA);
    await rejectsWith(b.vfs.open(ctx, attr.ino, fsc.O_RDWR), 'EBUSY');
    await a.vfs.release(ctx, wa);

    // After A's close: B's open sees A's data (close-to-open) and may now write.
    assert.deepEqual(await readAll(b, attr.ino), fromA);
    const wb = await b.vfs.open(ctx, attr.ino, fsc.O_WRONLY);
    await rejectsWith(a.vfs.open(ctx, attr.ino, fsc.O_WRONLY), 'EBUSY');
    const fromB = Buffer.from('B was here');
    await b.vfs.write(ctx, wb.fh, 0, fromB);
    await b.vfs.release(ctx, wb.fh);
    // Nothing lost: A sees B's bytes over A's, and can write again.
    const expected = Buffer.concat([fromB, fromA.subarray(fromB.length)]);
    assert.deepEqual(await readAll(a, attr.ino), expected);
    const again = await a.vfs.open(ctx, attr.ino, fsc.O_WRONLY);
    await a.vfs.release(ctx, again.fh);
  });

  it('a file being written can be opened and read at once on the client writing it', async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const { fh, attr } = await a.vfs.create(ctx, ROOT_INO, 'uploading', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
    await a.vfs.write(ctx, fh, 0, big); // buffered and uploading in the background
    const r = await a.vfs.open(ctx, attr.ino, fsc.O_RDONLY);
    assert.equal(r.attr.size, big.length);
    assert.deepEqual(await a.vfs.read(ctx, r.fh, 0, big.length), big);
    await a.vfs.release(ctx, r.fh);
    await a.vfs.fsync(ctx, fh, false);
    await a.vfs.release(ctx, fh);
    assert.deepEqual(await readAll(b, attr.ino), big);
  });
});
