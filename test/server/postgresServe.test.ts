import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, XATTR_CREATE } from '../../src/meta/MetaStore.js';
import { login } from '../../src/remote/loginFlow.js';
import { openRemoteSession, type RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as ctx } from '../../src/vfs/types.js';
import { startPostgresCluster, type PostgresCluster } from '../helpers/postgresCluster.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { addUserWithCli, checkUserNamespace, PgServeProcess } from './pgServeProcess.js';

const USER = 'alice';
const PASSWORD = 'alice on postgres';

async function writeWhole(s: RemoteSession, parent: number, name: string, data: Buffer): Promise<number> {
  const { fh, attr } = await s.vfs.create(ctx, parent, name, 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC);
  for (let off = 0; off < data.length; off += 256 * 1024) await s.vfs.write(ctx, fh, off, data.subarray(off, off + 256 * 1024));
  await s.vfs.fsync(ctx, fh, false);
  await s.vfs.release(ctx, fh);
  return attr.ino;
}

async function readWhole(s: RemoteSession, ino: number): Promise<Buffer> {
  const { fh } = await s.vfs.open(ctx, ino, fsc.O_RDONLY);
  try {
    const size = (await s.vfs.getattr(ctx, ino)).size;
    return await s.vfs.read(ctx, fh, 0, size + 1);
  } finally {
    await s.vfs.release(ctx, fh);
  }
}

function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(p, (err: unknown) => err instanceof FsError && err.code === code);
}

/** Every name of a directory through the VFS in pages of `pageSize`, and how many pages it took. */
async function listPaged(s: RemoteSession, dir: number, pageSize: number): Promise<{ names: string[]; pages: number }> {
  const fh = await s.vfs.opendir(ctx, dir);
  const names: string[] = [];
  let pages = 0;
  try {
    let offset = 0;
    for (;;) {
      const page = await s.vfs.readdir(ctx, fh, offset, pageSize);
      if (page.length === 0) break;
      assert.ok(page.length <= pageSize, `page of ${page.length} > ${pageSize}`);
      pages++;
      for (const e of page) names.push(e.name);
      offset = page[page.length - 1]!.next;
    }
  } finally {
    await s.vfs.releasedir(ctx, fh);
  }
  return { names: names.filter((n) => n !== '.' && n !== '..'), pages };
}

describe('mosaicfs serve on PostgreSQL (real binary, real cluster)', () => {
  let cluster: PostgresCluster;
  let root: string;
  let dataDir: string;
  let server: PgServeProcess;
  let session: RemoteSession | undefined;

  before(async () => {
    cluster = await startPostgresCluster();
    root = await createTempDir('mosaicfs-pgserve-');
    dataDir = path.join(root, 'data');
    await addUserWithCli(cluster.url, dataDir, USER, PASSWORD);
    server = new PgServeProcess(cluster.url, dataDir);
    await server.spawn();
    const configDir = path.join(root, 'config');
    await login({ url: server.url, user: USER, password: PASSWORD, configDir });
    session = await openRemoteSession({ url: server.url, configDir });
  });

  after(async () => {
    await session?.close().catch(() => {});
    if (server) {
      const code = await server.stop();
      assert.equal(code, 0, `serve exit ${code}\n${server.serverOutput()}`);
    }
    await cluster?.stop();
    if (root) await removeTempDir(root);
  });

  it('creates folders and files, writes and reads data byte-exact, renames, unlinks', async () => {
    const s = session!;
    const docs = await s.vfs.mkdir(ctx, ROOT_INO, 'docs', 0o755);
    assert.equal(docs.mode & S_IFMT, S_IFDIR);
    const deep = await s.vfs.mkdir(ctx, docs.ino, 'deep', 0o700);
    const small = Buffer.from('hello from postgres\n');
    const big = randomBytes(3 * 1024 * 1024 + 12345); // several 1 MiB blocks and a tail
    const smallIno = await writeWhole(s, docs.ino, 'small.txt', small);
    const bigIno = await writeWhole(s, deep.ino, 'big.bin', big);
    assert.deepEqual(await readWhole(s, smallIno), small);
    assert.ok((await readWhole(s, bigIno)).equals(big), 'big file reads back byte-exact');
    assert.equal((await s.vfs.resolve(ctx, '/docs/deep/big.bin')).size, big.length);

    // A partial overwrite in the middle and an append.
    const { fh } = await s.vfs.open(ctx, bigIno, fsc.O_WRONLY);
    const patch = randomBytes(5000);
    await s.vfs.write(ctx, fh, 1_000_000, patch);
    await s.vfs.write(ctx, fh, big.length, Buffer.from('tail'));
    await s.vfs.release(ctx, fh);
    const want = Buffer.concat([big, Buffer.from('tail')]);
    patch.copy(want, 1_000_000);
    assert.ok((await readWhole(s, bigIno)).equals(want), 'overwrite and append read back');

    // Renames: a file across folders, a folder to the root, over an existing file.
    await s.vfs.rename(ctx, docs.ino, 'small.txt', deep.ino, 'renamed.txt', 0);
    await rejectsWith(s.vfs.lookup(ctx, docs.ino, 'small.txt'), 'ENOENT');
    assert.equal((await s.vfs.resolve(ctx, '/docs/deep/renamed.txt')).ino, smallIno);
    await s.vfs.rename(ctx, docs.ino, 'deep', ROOT_INO, 'top', 0);
    assert.equal((await s.vfs.resolve(ctx, '/top/big.bin')).ino, bigIno);
    await rejectsWith(s.vfs.rename(ctx, ROOT_INO, 'top', deep.ino, 'loop', 0), 'EINVAL');
    const victim = await writeWhole(s, ROOT_INO, 'victim', Buffer.from('to be replaced'));
    await s.vfs.rename(ctx, deep.ino, 'renamed.txt', ROOT_INO, 'victim', 0);
    assert.equal((await s.vfs.lookup(ctx, ROOT_INO, 'victim')).ino, smallIno);
    await rejectsWith(s.vfs.getattr(ctx, victim), 'ENOENT');

    // Unlink and rmdir.
    await s.vfs.unlink(ctx, deep.ino, 'big.bin');
    await rejectsWith(s.vfs.lookup(ctx, deep.ino, 'big.bin'), 'ENOENT');
    await s.vfs.rmdir(ctx, ROOT_INO, 'docs');
    await rejectsWith(s.vfs.rmdir(ctx, ROOT_INO, 'docs'), 'ENOENT');
    await s.vfs.rmdir(ctx, ROOT_INO, 'top');
    assert.deepEqual((await listPaged(s, ROOT_INO, 100)).names.sort(), ['victim']);
    assert.deepEqual(await readWhole(s, smallIno), small);
  });

  it('sets, reads, lists and removes extended attributes', async () => {
    const s = session!;
    const ino = (await s.vfs.lookup(ctx, ROOT_INO, 'victim')).ino;
    const bin = randomBytes(4000);
    await s.vfs.setxattr(ctx, ino, 'user.color', Buffer.from('blue'), 0);
    await s.vfs.setxattr(ctx, ino, 'user.bin', bin, 0);
    await rejectsWith(s.vfs.setxattr(ctx, ino, 'user.color', Buffer.from('red'), XATTR_CREATE), 'EEXIST');
    assert.deepEqual(await s.vfs.getxattr(ctx, ino, 'user.color'), Buffer.from('blue'));
    assert.ok((await s.vfs.getxattr(ctx, ino, 'user.bin')).equals(bin));
    assert.deepEqual((await s.vfs.listxattr(ctx, ino)).sort(), ['user.bin', 'user.color']);
    await s.vfs.removexattr(ctx, ino, 'user.color');
    await rejectsWith(s.vfs.getxattr(ctx, ino, 'user.color'), 'ENODATA');
    assert.deepEqual(await s.vfs.listxattr(ctx, ino), ['user.bin']);
  });

  it('lists a folder of 3,000 entries in pages, every name exactly once', async () => {
    const s = session!;
    const dir = await s.vfs.mkdir(ctx, ROOT_INO, 'many', 0o755);
    const n = 3000;
    const names = Array.from({ length: n }, (_, i) => `entry-${String(i).padStart(5, '0')}-${i % 7 === 0 ? 'ü' : 'x'}`);
    for (let i = 0; i < n; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((name) => s.vfs.mknod(ctx, dir.ino, name, S_IFREG | 0o644, 0)));
    }
    const { names: listed, pages } = await listPaged(s, dir.ino, 200);
    assert.equal(listed.length, n);
    assert.deepEqual([...listed].sort(), [...names].sort());
    assert.equal(new Set(listed).size, n, 'no duplicates');
    assert.ok(pages >= n / 200, `${pages} pages`);
    // Changes between pages are tolerated: remove names behind and ahead of the cursor mid-listing.
    const fh = await s.vfs.opendir(ctx, dir.ino);
    try {
      const first = await s.vfs.readdir(ctx, fh, 0, 500);
      await s.vfs.unlink(ctx, dir.ino, names[n - 1]!);
      let offset = first[first.length - 1]!.next;
      const rest: string[] = [];
      for (;;) {
        const page = await s.vfs.readdir(ctx, fh, offset, 500);
        if (page.length === 0) break;
        rest.push(...page.map((e) => e.name));
        offset = page[page.length - 1]!.next;
      }
      assert.ok(!rest.includes(names[n - 1]!), 'an entry removed ahead of the cursor is not listed');
      const all = [...first.map((e) => e.name), ...rest].filter((x) => x !== '.' && x !== '..');
      assert.equal(all.length, n - 1);
    } finally {
      await s.vfs.releasedir(ctx, fh);
    }
  });

  it("leaves the user's PostgreSQL namespace and block store consistent (fsck clean)", async () => {
    await session!.close();
    session = undefined;
    const problems = await checkUserNamespace(cluster.url, dataDir, USER);
    assert.deepEqual(problems, []);
  });
});
