/**
 * Debug counters for FUSE operations: MOSAICFS_FUSE_STATS=1 wraps every operation to count calls
 * and time them (call -> callback), and prints a table to stderr when the process exits. The time
 * is ours only: the binding's round trip to the kernel thread is not included.
 * Off by default: the wrapper costs a closure and a clock read per request.
 */
type AnyOp = (...args: unknown[]) => void;

interface OpStat {
  calls: number;
  totalNs: bigint;
  maxNs: bigint;
}

export function fuseStatsEnabled(): boolean {
  return process.env.MOSAICFS_FUSE_STATS === '1';
}

export interface CountedOperations<T> {
  ops: T;
  /** The table of calls, mean/max latency and total time per operation (busiest first). */
  report(): string;
}

/** The same operations, each counted and timed (call -> callback). */
export function withOpStats<T extends object>(ops: T): CountedOperations<T> {
  const stats = new Map<string, OpStat>();
  const wrapped: Record<string, AnyOp> = {};
  for (const [name, fn] of Object.entries(ops) as [string, AnyOp][]) {
    const s: OpStat = { calls: 0, totalNs: 0n, maxNs: 0n };
    stats.set(name, s);
    wrapped[name] = (...args: unknown[]) => {
      const cb = args[args.length - 1] as AnyOp;
      const start = process.hrtime.bigint();
      s.calls++;
      args[args.length - 1] = (...res: unknown[]) => {
        const ns = process.hrtime.bigint() - start;
        s.totalNs += ns;
        if (ns > s.maxNs) s.maxNs = ns;
        cb(...res);
      };
      fn(...args);
    };
  }
  return { ops: wrapped as T, report: () => formatOpStats(stats) };
}

/** Count and time every operation, printing the table to stderr when the process exits. */
export function countedUntilExit<T extends object>(ops: T): T {
  const counted = withOpStats(ops);
  process.once('exit', () => process.stderr.write(counted.report()));
  return counted.ops;
}

function formatOpStats(stats: Map<string, OpStat>): string {
  const rows = [...stats].filter(([, s]) => s.calls > 0).sort((a, b) => b[1].calls - a[1].calls);
  const lines = ['FUSE op stats (calls, mean us, max us, total ms):'];
  for (const [name, s] of rows) {
    const mean = Number(s.totalNs / BigInt(s.calls)) / 1e3;
    lines.push(`  ${name.padEnd(12)} ${String(s.calls).padStart(8)} ${mean.toFixed(0).padStart(8)} ${(Number(s.maxNs) / 1e3).toFixed(0).padStart(9)} ${(Number(s.totalNs) / 1e6).toFixed(0).padStart(8)}`);
  }
  return lines.join('\n') + '\n';
}
