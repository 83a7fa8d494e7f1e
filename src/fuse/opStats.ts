/**
 * Debug counters for FUSE operations: MOSAICFS_FUSE_STATS=1 counts and times every operation and
 * prints a table to stderr when the process exits. fuse-native: each operation is wrapped (call ->
 * callback; the binding's round trip to the kernel thread is not included). Kernel binding
 * (FuseSession): every request by opcode, from its decoding to its reply; requests without a reply
 * (FORGET, INTERRUPT) count with time 0.
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

/** Calls and time per operation name; the table is the same for both bindings. */
export class OpStats {
  private readonly stats = new Map<string, OpStat>();

  record(name: string, ns: bigint): void {
    let s = this.stats.get(name);
    if (!s) this.stats.set(name, (s = { calls: 0, totalNs: 0n, maxNs: 0n }));
    s.calls++;
    s.totalNs += ns;
    if (ns > s.maxNs) s.maxNs = ns;
  }

  /** The table of calls, mean/max latency and total time per operation (busiest first). */
  report(): string {
    return formatOpStats(this.stats);
  }

  /** Print the table (and `more()`'s lines) to stderr when the process exits. */
  printAtExit(more?: () => string[]): void {
    process.once('exit', () => process.stderr.write(this.report() + (more?.().map((l) => `${l}\n`).join('') ?? '')));
  }
}

/** The same operations, each counted and timed (call -> callback). */
export function withOpStats<T extends object>(ops: T): CountedOperations<T> {
  const stats = new OpStats();
  const wrapped: Record<string, AnyOp> = {};
  for (const [name, fn] of Object.entries(ops) as [string, AnyOp][]) {
    wrapped[name] = (...args: unknown[]) => {
      const cb = args[args.length - 1] as AnyOp;
      const start = process.hrtime.bigint();
      args[args.length - 1] = (...res: unknown[]) => {
        stats.record(name, process.hrtime.bigint() - start);
        cb(...res);
      };
      fn(...args);
    };
  }
  return { ops: wrapped as T, report: () => stats.report() };
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
