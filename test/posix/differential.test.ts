import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, before, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { formatOp, mutates, OpRunner, PATHS, sequenceArbitrary, type Op } from '../helpers/fsOps.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { MountedVolume } from '../helpers/mountFixture.js';
import { startRemoteMount } from '../remote-mount/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { snapshotTree } from '../helpers/tree.js';

/**
 * Differential POSIX test: the same random operation sequence runs on the mount and on a plain folder of
 * the host file system; every result/errno, the mtime changes after every operation and the final trees must agree.
 *
 * Excluded on purpose (limitations of libfuse2 + fuse-native, lifted by our own FUSE binding later):
 * - rename flags (RENAME_NOREPLACE/EXCHANGE): fuse-native never passes them, and node cannot issue renameat2;
 * - timestamp values below 1 ms: fuse-native carries times as ms, so explicit times are whole ms, and
 *   only whether an mtime changed is compared, not its value (except right after an explicit utimes);
 * - atime, ctime values, st_ino/st_dev, st_blocks, directory sizes: file system specific by nature;
 * - a FIFO's mtime: pipe I/O updates it inside the kernel, and FUSE never reports that to the daemon.
 * Both bindings run: our own (default) and fuse-native, whose default attr_timeout=0 is needed because
 * libfuse2's high-level (path) API gives every path of a hard-linked file its own kernel inode.
 */

const RUNS = Number(process.env.MOSAICFS_DIFF_RUNS ?? 300);
const TIME_LIMIT_MS = 150_000;
const haveXattrTools = spawnSync('sh', ['-c', 'command -v setfattr && command -v getfattr'], { stdio: 'ignore' }).status === 0;

class Mismatch extends Error {}

interface PathState { ino: number | bigint; mtime: bigint }

/** Per watched path: 'absent', or whether its mtime changed since the last look (only when it is the same object). */
async function observe(root: string, prev: Map<string, PathState>, nsPrecision: boolean): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  for (const p of ['.', ...PATHS]) {
    let st;
    try {
      st = await lstat(path.join(root, p), { bigint: true });
    } catch {
      prev.delete(p);
      seen.set(p, 'absent');
      continue;
    }
    // A FIFO's times are updated by the kernel's pipe code on read/write, which FUSE never reports
    // to the daemon (true of every FUSE file system): compare that it exists, not its mtime.
    if (st.isFIFO()) {
      prev.delete(p);
      seen.set(p, 'fifo');
      continue;
    }
    // The mount reports ms (fuse-native Dates); the host ns. Compare each at its own precision.
    const mtime = nsPrecision ? st.mtimeNs : st.mtimeNs / 1_000_000n;
    const before = prev.get(p);
    prev.set(p, { ino: st.ino, mtime });
    if (!before || before.ino !== st.ino) seen.set(p, 'other object');
    else seen.set(p, before.mtime === mtime ? 'mtime same' : 'mtime changed');
  }
  return seen;
}

function compareObservations(mnt: Map<string, string>, ref: Map<string, string>): string[] {
  const diffs: string[] = [];
  for (const [p, r] of ref) {
    const m = mnt.get(p)!;
    // Inode numbers are reused differently on each side, so "other object" is not comparable; presence and mtime are.
    if (r === 'other object' || m === 'other object') {
      if ((r === 'absent') !== (m === 'absent')) diffs.push(`${p}: host ${r}, mount ${m}`);
      continue;
    }
    if (r !== m) diffs.push(`${p}: host ${r}, mount ${m}`);
  }
  return diffs;
}

/**
 * Which binding serves the mount, how to mount it, whether its times carry nanoseconds, and which
 * sequences it cannot run for a documented reason of the binding (never of mosaicfs).
 */
interface Variant { title: string; mountArgs: string[]; nsTimes: boolean; runs: number; cannotRun?: (ops: Op[]) => boolean; remote?: boolean }

/**
 * libfuse2's high-level (path) API reaches an open, unlinked file only by its hidden path, so the
 * fuse-native adapter refuses rmdir of a folder holding one (ENOTEMPTY, as stock libfuse2 file systems
 * do) rather than let the open file break; the host removes the folder. Conservatively: any sequence
 * that opens, then unlinks, then rmdirs.
 */
function rmdirAfterUnlinkWhileOpen(ops: Op[]): boolean {
  const open = ops.findIndex((o) => o.k === 'open');
  if (open < 0) return false;
  const unlink = ops.findIndex((o, i) => i > open && o.k === 'unlink');
  return unlink >= 0 && ops.some((o, i) => i > unlink && o.k === 'rmdir');
}

const VARIANTS: Variant[] = [
  // Our own binding (the default): real inode numbers (hard links cache safely) and nanosecond times.
  { title: 'own kernel binding (default)', mountArgs: [], nsTimes: true, runs: RUNS },
  // fuse-native (libfuse2): ms times; its default attr_timeout=0 keeps hard links coherent.
  { title: 'fuse-native binding (-o binding=fuse-native)', mountArgs: ['-o', 'binding=fuse-native'], nsTimes: false, runs: Math.max(50, Math.floor(RUNS / 2)), cannotRun: rmdirAfterUnlinkWhileOpen },
  // A remote mount (mosaicfs serve child, login, mount URL): same VFS over the remote MetaStore/BlockStore.
  { title: 'remote mount (mosaicfs serve over loopback)', mountArgs: [], nsTimes: true, runs: Number(process.env.MOSAICFS_DIFF_REMOTE_RUNS ?? Math.max(50, Math.floor(RUNS / 3))), remote: true },
];

for (const variant of VARIANTS) describe(`differential POSIX: mount vs host folder, ${variant.title}`, () => {
  const cleanup = suiteCleanups();
  let fx: MountedVolume;
  let hostRoot: string;
  let seq = 0;
  /** How often each operation gave each outcome: shows the sequences reach the interesting paths. */
  const coverage = new Map<string, number>();

  before(async () => {
    fx = variant.remote
      ? (await startRemoteMount(cleanup, variant.mountArgs)).fx
      : await MountedVolume.create({ after: cleanup, mountArgs: variant.mountArgs });
    hostRoot = await makeTempDir(cleanup, 'mosaicfs-diff-host-');
  });

  async function runSequence(ops: Op[]): Promise<void> {
    const name = `seq${seq++}`;
    const mntDir = path.join(fx.mnt, name);
    const hostDir = path.join(hostRoot, name);
    await mkdir(mntDir);
    await mkdir(hostDir);
    const mntRun = new OpRunner(mntDir);
    const hostRun = new OpRunner(hostDir);
    const mntPrev = new Map<string, PathState>();
    const hostPrev = new Map<string, PathState>();
    await observe(mntDir, mntPrev, variant.nsTimes);
    await observe(hostDir, hostPrev, true);
    const script: string[] = [];
    try {
      for (const op of ops) {
        // The mount's clock reads in ms: let it tick so a change is never hidden inside one millisecond.
        if (mutates(op)) await sleep(2);
        const m = await mntRun.run(op);
        const h = await hostRun.run(op);
        script.push(`${formatOp(op)} -> ${h}`);
        const key = `${op.k} ${h.split(/[ ;:]/)[0]}`;
        coverage.set(key, (coverage.get(key) ?? 0) + 1);
        if (m !== h) throw new Mismatch(`result differs at step ${script.length}: ${formatOp(op)}\n  host:  ${h}\n  mount: ${m}`);
        const diffs = compareObservations(await observe(mntDir, mntPrev, variant.nsTimes), await observe(hostDir, hostPrev, true));
        if (diffs.length) throw new Mismatch(`after step ${script.length}: ${formatOp(op)}\n  ${diffs.join('\n  ')}`);
      }
      await mntRun.closeAll();
      await hostRun.closeAll();
      const [mt, ht] = [await snapshotTree(mntDir), await snapshotTree(hostDir)];
      try {
        assert.deepEqual(mt, ht);
      } catch (err) {
        throw new Mismatch(`final trees differ (actual = mount, expected = host):\n${(err as Error).message}`);
      }
    } catch (err) {
      if (err instanceof Mismatch) err.message = `${err.message}\nsequence:\n  ${script.join('\n  ')}`;
      throw err;
    } finally {
      await mntRun.closeAll();
      await hostRun.closeAll();
      await rm(hostDir, { recursive: true, force: true });
      await rm(mntDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async function property(t: TestContext, withXattr: boolean, runs: number): Promise<void> {
    coverage.clear();
    let passed = 0;
    const started = Date.now();
    const details = await fc.check(
      fc.asyncProperty(sequenceArbitrary(withXattr), async (ops) => {
        fc.pre(!variant.cannotRun?.(ops));
        await runSequence(ops);
        passed++;
      }),
      { numRuns: runs, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, seed: envSeed() },
    );
    if (details.failed) {
      const ce = details.counterexample?.[0] as Op[] | undefined;
      const err = details.errorInstance as Error | undefined;
      assert.fail(
        `counterexample (seed ${details.seed}, path "${details.counterexamplePath}", shrunk ${details.numShrinks} times):\n` +
          `${ce?.map(formatOp).join('\n') ?? '?'}\n\n${err?.message ?? String(details.errorInstance)}`,
      );
    }
    t.diagnostic(`outcomes: ${[...coverage].sort().map(([k, v]) => `${k} x${v}`).join(', ')}`);
    // Not a silent pass: the time limit must not have cut the number of sequences short.
    assert.ok(passed >= runs, `only ${passed}/${runs} sequences ran within ${TIME_LIMIT_MS} ms (${Date.now() - started} ms)`);
  }

  it(`${variant.runs} random operation sequences give the same results on the mount as on the host`, async (t) => {
    await property(t, false, variant.runs);
  });

  it('random sequences with xattrs (setfattr/getfattr) agree', { skip: haveXattrTools ? false : 'setfattr/getfattr not installed (Debian package attr)' }, async (t) => {
    await property(t, true, Math.max(20, Math.floor(variant.runs / 4)));
  });
});

function envSeed(): number | undefined {
  const s = process.env.MOSAICFS_DIFF_SEED;
  return s === undefined ? undefined : Number(s);
}
