// Turns results into the console table, the markdown table and the goal checks.
// A run of one round compares single figures; a run of several (--rounds N) shows medians over the
// rounds and, as ratios, the medians of the per-round ratios (see rounds.ts).
import { METRIC_IDS, METRICS, speedRatio, type MetricId, type TargetResult } from './metrics.js';
import { pairedRatios, partialMetrics, summarize, summarizeProbes, type RoundResult, type Summary } from './rounds.js';

export interface RunReport {
  date: string;
  mode: 'quick' | 'full';
  machine: Record<string, string>;
  config: Record<string, unknown>;
  /** With --rounds N > 1: every round's raw results; `results` then holds the medians over rounds. */
  results: TargetResult[];
  rounds?: RoundResult[];
}

const byLabel = (r: RunReport, label: string) => r.results.find((t) => t.label === label && !t.unavailable);

/** The report's rounds when there are several, else undefined (a single run). */
const multiRounds = (r: RunReport): RoundResult[] | undefined => (r.rounds && r.rounds.length > 1 ? r.rounds : undefined);

/**
 * The target every ratio in the table is taken against: in a single run the local folder (as it always
 * was); with several rounds the first target given to --only.
 */
export function referenceTarget(report: RunReport): TargetResult | undefined {
  if (!multiRounds(report)) return byLabel(report, 'local');
  const first = report.results[0];
  return first && !first.unavailable ? first : undefined;
}

/**
 * How many times as good `label` is as `reference` on a metric: with several rounds the median (and
 * range) of the per-round ratios, otherwise the ratio of the two single figures (min = max = median).
 */
export function ratioOf(report: RunReport, id: MetricId, label: string, reference: string): Summary | undefined {
  const rounds = multiRounds(report);
  if (rounds) return summarize(pairedRatios(rounds, id, label, reference));
  const x = speedRatio(id, byLabel(report, label)?.values[id], byLabel(report, reference)?.values[id]);
  return x === undefined ? undefined : { median: x, min: x, max: x, n: 1 };
}

function fmtValue(id: MetricId, v: number | undefined): string {
  if (v === undefined) return '—';
  const d = METRICS[id].digits;
  return v >= 1000 && d === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(d);
}

const fmtRatio = (x: number | undefined) => (x === undefined ? '—' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`);

/** Bounds of a ratio range, two significant figures: 0.031, 1.2, 26. */
const fmtBound = (x: number) => (x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toPrecision(2));

/** "1.2-2.6" over the rounds, plus ", n=2" when some rounds lack a figure. */
const fmtSpread = (s: Summary, rounds: number) => `${fmtBound(s.min)}-${fmtBound(s.max)}${s.n < rounds ? `, n=${s.n}` : ''}`;

/** "1.83×" for a single run; "1.83×, 1.2-2.6" with rounds. */
function fmtRatioSummary(s: Summary | undefined, rounds: number): string {
  if (s === undefined) return fmtRatio(undefined);
  return rounds <= 1 ? fmtRatio(s.median) : `${fmtRatio(s.median)}, ${fmtSpread(s, rounds)}`;
}

interface Table {
  header: string[];
  rows: string[][];
}

/**
 * Same code on two FUSE bindings (issue 3 compares them). Shown as paired-ratio columns only with
 * several rounds, so a single run's table stays as it always was.
 */
const BINDING_PAIRS: [string, string][] = [
  ['passthrough-kernel', 'passthrough-fuse-native'],
  ['mosaicfs', 'mosaicfs-fuse-native'],
];

/**
 * One row per metric: each target's figure with its ratio to the reference target
 * (× = times as fast/as good, direction-corrected), then mosaicfs against rclone and sshfs and,
 * with several rounds, each binding pair.
 */
export function buildTable(report: RunReport): Table {
  const targets = report.results;
  const rounds = multiRounds(report)?.length ?? 1;
  const ref = referenceTarget(report);
  const mosaic = byLabel(report, 'mosaicfs');
  const peers = ['rclone', 'sshfs'].filter((p) => byLabel(report, p));
  const pairs = rounds > 1 ? BINDING_PAIRS.filter(([a, b]) => byLabel(report, a) && byLabel(report, b)) : [];
  const header = [
    'metric',
    'unit',
    ...targets.map((t) => t.label),
    ...(mosaic ? peers.map((p) => `mosaicfs vs ${p}`) : []),
    ...pairs.map(([a, b]) => `${a} vs ${b}`),
  ];
  const rows = METRIC_IDS.map((id) => {
    const cells = targets.map((t) => {
      if (t.unavailable) return 'n/a';
      const v = t.values[id];
      const vsRef = t !== ref && ref ? ratioOf(report, id, t.label, ref.label) : undefined;
      const shown = `${fmtValue(id, v)}${t.notes[id] ? '†' : ''}`;
      return vsRef === undefined ? shown : `${shown} (${fmtRatioSummary(vsRef, rounds)})`;
    });
    const vsPeers = mosaic ? peers.map((p) => fmtRatioSummary(ratioOf(report, id, 'mosaicfs', p), rounds)) : [];
    const vsPairs = pairs.map(([a, b]) => fmtRatioSummary(ratioOf(report, id, a, b), rounds));
    return [METRICS[id].label, METRICS[id].unit, ...cells, ...vsPeers, ...vsPairs];
  });
  return { header, rows };
}

export function textTable(t: Table): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${t.header.map(esc).join(' | ')} |`,
    `| ${t.header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface GoalCheck {
  goal: string;
  measured: string;
  verdict: 'met' | 'NOT met' | 'not measured';
}

/** The performance targets from the project issue, checked against this run. */
export function checkGoals(report: RunReport): GoalCheck[] {
  const local = byLabel(report, 'local');
  const mosaic = byLabel(report, 'mosaicfs');
  const rounds = multiRounds(report)?.length ?? 1;
  const checks: GoalCheck[] = [];
  const ratioGoal = (goal: string, id: MetricId, ref: TargetResult | undefined, min: number) => {
    const s = mosaic && ref ? ratioOf(report, id, mosaic.label, ref.label) : undefined;
    checks.push({
      goal,
      measured: s === undefined ? '—' : rounds > 1 ? `${fmtRatio(s.median)} (${fmtSpread(s, rounds)})` : fmtRatio(s.median),
      verdict: s === undefined ? 'not measured' : s.median >= min ? 'met' : 'NOT met',
    });
  };
  ratioGoal('sequential write >= 0.8x local', 'seqWrite', local, 0.8);
  ratioGoal('sequential cold read >= 0.8x local', 'seqReadCold', local, 0.8);
  for (const peer of ['rclone', 'sshfs']) {
    const ref = byLabel(report, peer);
    ratioGoal(`small-file create >= 1.5x ${peer}`, 'smallCreate', ref, 1.5);
    ratioGoal(`small-file stat >= 1.5x ${peer}`, 'smallStat', ref, 1.5);
    ratioGoal(`small-file read >= 1.5x ${peer}`, 'smallRead', ref, 1.5);
    ratioGoal(`tar extraction >= 1.5x ${peer}`, 'tarExtract', ref, 1.5);
  }
  const ttfb = mosaic?.values.ttfbCold;
  checks.push({
    goal: `first byte of a ${report.config.seqSize} file, cold < 20 ms`,
    measured: ttfb === undefined ? '—' : `${ttfb.toFixed(2)} ms`,
    verdict: ttfb === undefined ? 'not measured' : ttfb < 20 ? 'met' : 'NOT met',
  });
  const rss = mosaic?.values.rssPeak;
  checks.push({
    goal: `mount RSS < 300 MiB while copying ${report.config.rssSize} in${report.config.rssSize === '2 GiB' ? '' : ' (the goal is for 2 GiB)'}`,
    measured: rss === undefined ? '—' : `${rss.toFixed(0)} MiB`,
    verdict: rss === undefined ? 'not measured' : rss < 300 ? 'met' : 'NOT met',
  });
  return checks;
}

function footnotes(report: RunReport): string[] {
  const out: string[] = [];
  for (const t of report.results) {
    if (t.unavailable) out.push(`${t.label}: not measured: ${t.unavailable}`);
    for (const [id, note] of Object.entries(t.notes)) out.push(`† ${t.label} ${METRICS[id as MetricId].label}: measured on ${note}`);
    for (const [id, why] of Object.entries(t.missing)) out.push(`${t.label} ${METRICS[id as MetricId].label}: ${why}`);
    if (!t.coldCachesDropped) out.push(`${t.label}: kernel caches could NOT be dropped (not root): "cold" figures are not cold`);
    for (const p of partialMetrics(multiRounds(report) ?? [], t.label)) {
      out.push(`${t.label} ${METRICS[p.id].label}: measured in ${p.measured} of ${report.rounds!.length} rounds (${p.why})`);
    }
  }
  return out;
}

/** With several rounds: what the figures and ratios are, and how noisy the machine was meanwhile. */
function roundsNotes(report: RunReport): string[] {
  const rounds = multiRounds(report);
  if (!rounds) return [];
  const ref = referenceTarget(report);
  const ms = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
  const range = (s: Summary) => `${ms(s.median)} ms (${ms(s.min)}-${ms(s.max)})`;
  const probes = summarizeProbes(rounds);
  return [
    `${rounds.length} rounds, target order alternating (${rounds.map((r) => r.order.join(' > ')).slice(0, 2).join(' | ')}). ` +
      `Figures: median over the rounds. In parentheses: median of the per-round ratios to ${ref?.label ?? 'the reference (unavailable)'}, then their min-max.`,
    'A per-round ratio pairs two measurements taken seconds apart, so it survives this machine\'s drift far better than a ratio of medians.',
    ...(probes
      ? [
          `machine probe before each target (${probes.cpuMs.n} samples): CPU loop ${range(probes.cpuMs)}, 64 KiB write+fsync ${range(probes.fsyncMs)}; ` +
            `per round: ${probes.perRound.map((r) => `#${r.round} ${ms(r.cpuMs)} / ${ms(r.fsyncMs)} ms`).join(', ')}`,
        ]
      : []),
  ];
}

export function renderText(report: RunReport): string {
  const goals = checkGoals(report);
  return [
    `mosaicfs bench (${report.mode}) ${report.date}; ratios: × = times as fast / as good as the reference`,
    textTable(buildTable(report)),
    ...roundsNotes(report),
    '',
    ...footnotes(report),
    '',
    'goals:',
    ...goals.map((g) => `  ${g.verdict.padEnd(12)} ${g.goal}: ${g.measured}`),
  ].join('\n');
}

export function renderMarkdown(report: RunReport): string {
  const goals = checkGoals(report);
  const machine = Object.entries(report.machine).map(([k, v]) => `- ${k}: \`${v.replace(/\n/g, ' / ')}\``);
  const config = Object.entries(report.config).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return [
    `### Run of ${report.date} (${report.mode} mode)`,
    '',
    ...machine,
    `- workloads: ${config.join(', ')}`,
    '',
    (multiRounds(report) ? 'Figures are medians over rounds; in parentheses ratios to the reference (below). ' : 'Figures are absolute; in parentheses the ratio to the local folder. ') +
      'Ratios are direction-corrected: `2×` always means twice as good (twice the throughput, or half the time/memory).',
    '',
    markdownTable(buildTable(report)),
    '',
    ...roundsNotes(report).flatMap((line) => [line, '']),
    ...footnotes(report).map((f) => `- ${f}`),
    '',
    '| goal | measured | verdict |',
    '| --- | ---: | --- |',
    ...goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.verdict} |`),
    '',
  ].join('\n');
}
