// Turns results into the console table, the markdown table and the goal checks.
import { METRIC_IDS, METRICS, speedRatio, type MetricId, type TargetResult } from './metrics.js';

export interface RunReport {
  date: string;
  mode: 'quick' | 'full';
  machine: Record<string, string>;
  config: Record<string, unknown>;
  results: TargetResult[];
}

const byLabel = (r: RunReport, label: string) => r.results.find((t) => t.label === label && !t.unavailable);

function fmtValue(id: MetricId, v: number | undefined): string {
  if (v === undefined) return '—';
  const d = METRICS[id].digits;
  return v >= 1000 && d === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(d);
}

const fmtRatio = (x: number | undefined) => (x === undefined ? '—' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`);

interface Table {
  header: string[];
  rows: string[][];
}

/**
 * One row per metric: each target's figure with its ratio to the local folder
 * (× = times as fast/as good, direction-corrected), then mosaicfs against rclone and sshfs.
 */
export function buildTable(report: RunReport): Table {
  const targets = report.results;
  const local = byLabel(report, 'local');
  const mosaic = byLabel(report, 'mosaicfs');
  const peers = ['rclone', 'sshfs'].filter((p) => byLabel(report, p));
  const header = ['metric', 'unit', ...targets.map((t) => t.label), ...(mosaic ? peers.map((p) => `mosaicfs vs ${p}`) : [])];
  const rows = METRIC_IDS.map((id) => {
    const cells = targets.map((t) => {
      if (t.unavailable) return 'n/a';
      const v = t.values[id];
      const vsLocal = t !== local && local ? speedRatio(id, v, local.values[id]) : undefined;
      const note = t.notes[id] ? '†' : '';
      return vsLocal === undefined ? `${fmtValue(id, v)}${note}` : `${fmtValue(id, v)}${note} (${fmtRatio(vsLocal)})`;
    });
    const vsPeers = mosaic ? peers.map((p) => fmtRatio(speedRatio(id, mosaic.values[id], byLabel(report, p)!.values[id]))) : [];
    return [METRICS[id].label, METRICS[id].unit, ...cells, ...vsPeers];
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
  const checks: GoalCheck[] = [];
  const ratioGoal = (goal: string, id: MetricId, ref: TargetResult | undefined, min: number) => {
    const x = mosaic && ref ? speedRatio(id, mosaic.values[id], ref.values[id]) : undefined;
    checks.push({
      goal,
      measured: x === undefined ? '—' : fmtRatio(x),
      verdict: x === undefined ? 'not measured' : x >= min ? 'met' : 'NOT met',
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
  }
  return out;
}

export function renderText(report: RunReport): string {
  const goals = checkGoals(report);
  return [
    `mosaicfs bench (${report.mode}) ${report.date}; ratios: × = times as fast / as good as the reference`,
    textTable(buildTable(report)),
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
    'Figures are absolute; in parentheses the ratio to the local folder. Ratios are direction-corrected: ' +
      '`2×` always means twice as good (twice the throughput, or half the time/memory).',
    '',
    markdownTable(buildTable(report)),
    '',
    ...footnotes(report).map((f) => `- ${f}`),
    '',
    '| goal | measured | verdict |',
    '| --- | ---: | --- |',
    ...goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.verdict} |`),
    '',
  ].join('\n');
}
