// Command-line options and the workload sizes of a bench run.

export const TARGET_NAMES = ['local', 'mosaicfs', 'mosaicfs-fuse-native', 'rclone', 'sshfs', 'passthrough-kernel', 'passthrough-fuse-native'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface BenchConfig {
  quick: boolean;
  targets: TargetName[];
  /** Rounds of all targets, alternating their order; ratios are then medians of per-round ratios. */
  rounds: number;
  /** Sequential write/read and time-to-first-byte file. */
  seqBytes: number;
  /** File that the 4 KiB random reads and writes hit. */
  randomFileBytes: number;
  /** Duration of each random I/O phase. */
  randomSeconds: number;
  smallFiles: number;
  smallFileBytes: number;
  /** Fan-out per level of the directory tree; 10*9*10 gives 10+90+900 = 1,000 dirs. */
  treeFanout: number[];
  /** Renames of the top directory, back and forth. */
  treeRenames: number;
  /** Cold time-to-first-byte trials (each after a remount and cache drop). */
  ttfbTrials: number;
  /** Bytes written into the mount while its peak RSS is watched. */
  rssBytes: number;
  /** Hard limit for one workload before the target is torn down. */
  workloadTimeoutSec: number;
  /** Where temp dirs, volumes and backing folders go (same disk as the local target). */
  workRoot: string;
  resultsDir: string;
}

const MiB = 1024 * 1024;

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new Error(`bad size: ${text} (use e.g. 512M, 2G)`);
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[m[2].toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

const USAGE = `usage: node dist/bench/run.js [--quick] [--only ${TARGET_NAMES.join(",")}]
       [--size 512M] [--rss-size 2G] [--random-seconds 10] [--rounds 1] [--work-root DIR] [--results DIR]`;

export function parseArgs(argv: string[], defaults: { workRoot: string; resultsDir: string }): BenchConfig {
  const opts = new Map<string, string>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('--')) {
      const [key, inline] = arg.slice(2).split('=', 2);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      opts.set(key, value);
    } else throw new Error(`unexpected argument ${arg}\n${USAGE}`);
  }
  const known = new Set(['only', 'size', 'rss-size', 'random-seconds', 'rounds', 'work-root', 'results']);
  for (const key of opts.keys()) if (!known.has(key)) throw new Error(`unknown option --${key}\n${USAGE}`);

  const targets = opts.has('only')
    ? opts.get('only')!.split(',').map((t) => t.trim()).filter(Boolean)
    : [...TARGET_NAMES];
  for (const t of targets) {
    if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new Error(`unknown target ${t}; known: ${TARGET_NAMES.join(', ')}`);
  }

  const rounds = opts.has('rounds') ? Number(opts.get('rounds')) : 1;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds needs a whole number >= 1, got ${opts.get('rounds')}`);

  const seqBytes = opts.has('size') ? parseSize(opts.get('size')!) : (quick ? 128 : 512) * MiB;
  return {
    quick,
    targets: targets as TargetName[],
    rounds,
    seqBytes,
    randomFileBytes: (quick ? 64 : 256) * MiB,
    randomSeconds: opts.has('random-seconds') ? Number(opts.get('random-seconds')) : quick ? 3 : 10,
    smallFiles: quick ? 500 : 2000,
    smallFileBytes: 4096,
    treeFanout: quick ? [5, 5, 10] : [10, 9, 10],
    treeRenames: 10,
    ttfbTrials: quick ? 1 : 3,
    rssBytes: opts.has('rss-size') ? parseSize(opts.get('rss-size')!) : (quick ? 512 : 2048) * MiB,
    workloadTimeoutSec: quick ? 120 : 300,
    workRoot: opts.get('work-root') ?? defaults.workRoot,
    resultsDir: opts.get('results') ?? defaults.resultsDir,
  };
}

export function treeDirCount(fanout: number[]): number {
  let level = 1;
  let total = 0;
  for (const f of fanout) {
    level *= f;
    total += level;
  }
  return total;
}
