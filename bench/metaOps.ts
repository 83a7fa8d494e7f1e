// In-process cost of SqliteMetaStore operations on a real SQLite file, per phase, in CPU µs per op:
//   node dist/bench/metaOps.js [--n 3000] [--delay MS[,MS...]] [--rounds 3] [--json FILE]
// Each phase does what the VFS asks per file: create (a negative lookup first, then create),
// commit (one slice in a new small block), getattr, lookup, unlink (unlink, then purgeInode).
// Every operation runs in its own macrotask (as FUSE requests arrive), so a group-commit timer
// gets the chance to fire between them exactly as in the mount daemon. --delay runs the whole
// sequence once per commitDelayMs value (0 = one COMMIT per operation); rounds alternate.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT_INO, S_IFDIR, S_IFREG, type Timespec } from '../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../src/meta/sqlite/SqliteMetaStore.js';

const PHASES = ['create', 'commit', 'getattr', 'lookup', 'unlink'] as const;
type Phase = (typeof PHASES)[number];

function args(): { n: number; delays: number[]; rounds: number; json?: string } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    n: Number(get('--n') ?? 3000),
    delays: (get('--delay') ?? '0,2').split(',').map(Number),
    rounds: Number(get('--rounds') ?? 3),
    json: get('--json'),
  };
}

const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

function ts(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}

/**
 * One pass over all phases on a fresh file; returns CPU µs (user + system, this process) per op for
 * each phase: the event-loop time an operation takes from the daemon, and less disturbed than wall
 * time by other processes on a shared machine.
 */
async function pass(root: string, n: number, delay: number, tag: string): Promise<Record<Phase, number>> {
  const file = path.join(root, `${tag}.db`);
  // Older builds ignore the option: then every delay measures the per-operation commit.
  const store = SqliteMetaStore.open(file, { chunkSize: 4 * 1024 * 1024, commitDelayMs: delay } as never);
  const out = {} as Record<Phase, number>;
  try {
    await store.init({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: ts() });
    const dir = await store.create(ROOT_INO, 'd', { mode: S_IFDIR | 0o755, uid: 0, gid: 0, now: ts() });
    const names = Array.from({ length: n }, (_, i) => `file-${i}.txt`);
    const inos: number[] = [];
    const timed = async (phase: Phase, op: (i: number) => Promise<unknown>) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        await op(i);
        await nextMacrotask();
      }
      const c = process.cpuUsage(c0);
      out[phase] = (c.user + c.system) / n;
    };
    await timed('create', async (i) => {
      if (await store.lookup(dir.ino, names[i])) throw new Error('exists');
      inos.push((await store.create(dir.ino, names[i], { mode: S_IFREG | 0o644, uid: 0, gid: 0, now: ts() })).ino);
    });
    await timed('commit', async (i) => {
      const id = createHash('sha256').update(`${tag}-${i}`).digest('hex');
      await store.commitSlices(inos[i], [{ chunk: 0, slices: [{ chunkOff: 0, len: 100, blockId: id, blockOff: 0 }] }],
        [{ id, size: 100, storedSize: 128 }], 100, ts());
    });
    await timed('getattr', (i) => store.getattr(inos[i]));
    await timed('lookup', (i) => store.lookup(dir.ino, names[i]));
    await timed('unlink', async (i) => {
      await store.unlink(dir.ino, names[i], ts());
      await store.purgeInode(inos[i]);
    });
    await store.sync();
    const problems = await store.check();
    if (problems.length > 0) throw new Error(`check: ${problems.join('; ')}`);
  } finally {
    await store.close();
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { n, delays, rounds, json } = args();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-metaops-'));
  const results = new Map<number, Array<Record<Phase, number>>>(delays.map((d) => [d, []]));
  try {
    process.stderr.write(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, n=${n}, rounds=${rounds}\n`);
    for (let r = 0; r < rounds; r++) {
      for (const d of delays) results.get(d)!.push(await pass(root, n, d, `r${r}-d${d}`));
    }
    const head = `${'commitDelayMs'.padEnd(14)}${PHASES.map((p) => p.padStart(18)).join('')}`;
    const lines = [`CPU µs per op: median of ${rounds} (min-max)`, head];
    for (const d of delays) {
      const rs = results.get(d)!;
      const cells = PHASES.map((p) => {
        const xs = rs.map((x) => x[p]);
        return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`.padStart(18);
      });
      lines.push(`${String(d).padEnd(14)}${cells.join('')}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    if (json) await fs.writeFile(json, JSON.stringify({ loadavg: os.loadavg(), n, rounds, results: Object.fromEntries(results) }, null, 2));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
