/**
 * The steps every backend end-to-end test goes through, all with the real CLI binary and a real
 * FUSE mount: write a small tree through the mount (one file spans several blocks) and fsync it,
 * read it back byte-exact (after a remount, so nothing comes from a cache), `mosaicfs fsck`, and
 * `mosaicfs put` / `get` with the volume unmounted.
 *
 * All file I/O here is asynchronous on purpose: a backend emulator may run inside the test process
 * (Discord), and a synchronous call into the mount would block the very server the daemon waits on.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { MountedVolume } from '../helpers/mountFixture.js';
import { describeRun } from '../helpers/run.js';

/** Block size of the test volumes: small, so a few hundred KiB already span several blocks. */
export const BLOCK_SIZE = 64 * 1024;
export const BLOCK_SIZE_FLAG = ['--block-size', '64K'];

/** relative path -> contents */
export type Tree = Map<string, Buffer>;

/** A few files in nested folders; `big.bin` is 4.5 blocks long, one file is empty. */
export function sampleTree(): Tree {
  return new Map<string, Buffer>([
    ['hello.txt', Buffer.from('hello, mosaicfs\n')],
    ['empty', Buffer.alloc(0)],
    ['docs/notes.md', Buffer.from('# notes\n' + 'line of text\n'.repeat(300))],
    ['docs/deep/er/random.bin', randomBytes(12_345)],
    ['big.bin', randomBytes(Math.round(BLOCK_SIZE * 4.5))],
  ]);
}

/** Write every file through the mount, fsync each (and its folder), close. */
export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [rel, data] of tree) {
    const file = path.join(root, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const fh = await fs.open(file, 'w', 0o644);
    try {
      // Several writes, so the big file goes through the write buffer in pieces, as a copy would.
      for (let off = 0; off < data.length; off += 50_000) await fh.write(data, off, Math.min(50_000, data.length - off), off);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  const dir = await fs.open(root, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Every file of `tree` reads back byte-exact, and the tree holds nothing else. */
export async function verifyTree(root: string, tree: Tree, extra: string[] = []): Promise<void> {
  for (const [rel, want] of tree) {
    const got = await fs.readFile(path.join(root, rel));
    assert.equal(got.length, want.length, `${rel}: size`);
    assert.ok(got.equals(want), `${rel}: contents differ (sha256 ${sha(got)} != ${sha(want)})`);
  }
  const listed = (await fs.readdir(root, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.relative(root, path.join(d.parentPath, d.name)))
    .sort();
  assert.deepEqual(listed, [...tree.keys(), ...extra].sort());
}

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** `mosaicfs fsck VOL` exits 0 and reports a clean volume with at least `minBlocks` blocks checked. */
export async function assertFsckClean(fx: MountedVolume, minBlocks: number): Promise<void> {
  const r = await fx.fsck();
  assert.equal(r.code, 0, describeRun('mosaicfs fsck', r));
  assert.match(r.stdout, /volume is clean/, describeRun('mosaicfs fsck', r));
  const checked = Number(/(\d+) block\(s\) checked/.exec(r.stdout)?.[1]);
  assert.ok(checked >= minBlocks, `fsck checked ${checked} blocks, expected at least ${minBlocks}`);
}

/**
 * With the volume unmounted: `mosaicfs put` a multi-block local file into it and `mosaicfs get` it
 * back, and `get` a file written through the mount. Returns the put file's contents (it lives at
 * /put.bin in the volume).
 */
export async function putGetRoundTrip(fx: MountedVolume, tree: Tree): Promise<Buffer> {
  const local = path.join(fx.root, 'local');
  await fs.mkdir(local, { recursive: true });
  const data = randomBytes(Math.round(BLOCK_SIZE * 2.3));
  await fs.writeFile(path.join(local, 'in.bin'), data);
  const put = await fx.cli(['put', path.join(local, 'in.bin'), `${fx.vol}:/put.bin`]);
  assert.equal(put.code, 0, describeRun('mosaicfs put', put));
  const get = await fx.cli(['get', `${fx.vol}:/put.bin`, `${fx.vol}:/big.bin`, local + '/']);
  assert.equal(get.code, 0, describeRun('mosaicfs get', get));
  assert.ok((await fs.readFile(path.join(local, 'put.bin'))).equals(data), 'put then get: contents differ');
  assert.ok((await fs.readFile(path.join(local, 'big.bin'))).equals(tree.get('big.bin')!), 'get of a file written through the mount: contents differ');
  return data;
}

/**
 * The whole story for one backend: write + fsync through the mount, remount, read back, umount,
 * fsck, put/get unmounted. Returns the volume's tree (with /put.bin). Leaves the volume unmounted.
 */
export async function fullRoundTrip(fx: MountedVolume, hooks: { afterRemount?: () => Promise<void>; beforeFsck?: () => Promise<void> } = {}): Promise<Tree> {
  return withDaemonOutput(fx, () => roundTrip(fx, hooks));
}

/** Run fn; on failure, add the mount daemon's output to the error (the why is usually there). */
export async function withDaemonOutput<T>(fx: MountedVolume, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- mount daemon output (tail) ---\n${fx.daemonOutput().slice(-6000)}`;
    throw err;
  }
}

async function roundTrip(fx: MountedVolume, hooks: { afterRemount?: () => Promise<void>; beforeFsck?: () => Promise<void> }): Promise<Tree> {
  const tree = sampleTree();
  step('write');
  await writeTree(fx.mnt, tree);
  step('remount');
  await fx.remount();
  await hooks.afterRemount?.();
  step('verify');
  await verifyTree(fx.mnt, tree);
  step('unmount');
  await fx.unmount();
  await hooks.beforeFsck?.();
  step('fsck');
  await assertFsckClean(fx, 8);
  step('put/get');
  tree.set('put.bin', await putGetRoundTrip(fx, tree));
  step('done');
  return tree;
}

let last = 0;
/** With MOSAICFS_E2E_TIMING=1: how long each step took (to keep these tests fast). */
export function step(name: string): void {
  if (!process.env.MOSAICFS_E2E_TIMING) return;
  const now = performance.now();
  process.stderr.write(`# e2e step ${name} (+${last ? Math.round(now - last) : 0} ms)\n`);
  last = now;
}

/**
 * Blocks stored by a local block store folder: block files, plus the rows of its small-block
 * database (src/block/local/SmallBlockDb.ts), read without opening the store a mount may be using.
 */
export async function countLocalBlocks(dir: string): Promise<number> {
  const files = (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile() && /^[0-9a-f]{64}$/.test(d.name)).length;
  const dbFile = path.join(dir, 'small.db');
  if (!existsSync(dbFile)) return files;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return files + (db.prepare('SELECT count(*) FROM blocks').pluck().get() as number);
  } finally {
    db.close();
  }
}
