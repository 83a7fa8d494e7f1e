/**
 * Child process of sqliteGroupCommit.test.ts: writes to a SqliteMetaStore whose group-commit window
 * never closes by itself, syncs, writes more, then either waits to be killed ("kill": it prints
 * "ready <last inode number handed out>") or ends with process.exit() without closing the store
 * ("exit"). Usage: FILE kill|exit
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_INO, S_IFDIR, S_IFREG } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';

export const SYNCED = Array.from({ length: 10 }, (_, i) => `synced-${i}`);
export const AFTER_SYNC = Array.from({ length: 10 }, (_, i) => `after-sync-${i}`);
export const blockIdOf = (i: number): string => i.toString(16).padStart(64, '0');

const T = { sec: 1_700_000_000, nsec: 0 };

async function main(file: string, mode: string): Promise<void> {
  const store = SqliteMetaStore.open(file, { commitDelayMs: 3_600_000 });
  await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: T });
  for (const [i, name] of SYNCED.entries()) {
    const f = await store.create(ROOT_INO, name, { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T });
    const id = blockIdOf(i);
    await store.commitSlices(f.ino, [{ chunk: 0, slices: [{ chunkOff: 0, len: 10, blockId: id, blockOff: 0 }] }],
      [{ id, size: 10, storedSize: 38 }], 10, T);
  }
  await store.sync();
  let lastIno = 0;
  for (const name of AFTER_SYNC) lastIno = (await store.create(ROOT_INO, name, { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: T })).ino;
  if (mode === 'exit') process.exit(0);
  process.stdout.write(`ready ${lastIno}\n`);
  setInterval(() => undefined, 60_000); // stay alive until killed
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main(process.argv[2], process.argv[3]).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(2);
  });
}
