// Arithmetic of a run in several rounds (--rounds N): target order per round, medians over rounds,
// and paired ratios (each round's figure against the reference measured in the same round).
import { METRIC_IDS, speedRatio, type MetricId, type TargetResult } from './metrics.js';

/** How fast the machine was right before one target of one round (see machineProbe.ts). */
export interface ProbeSample {
  /** The target that ran right after the probe. */
  before: string;
  /** Milliseconds of a fixed CPU loop. */
  cpuMs: number;
  /** Milliseconds of a fixed small write + fsync in the work folder. */
  fsyncMs: number;
}

export interface RoundResult {
  /** 1-based. */
  round: number;
  /** Target labels in the order they ran in this round. */
  order: string[];
  probes: ProbeSample[];
  /** This round's raw results, in the order the targets ran. */
  results: TargetResult[];
}

/** Spread of a set of figures: the median and the extremes, over `n` values. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Round 0, 2, 4... run the targets as given, rounds 1, 3... in reverse, so no target always goes first. */
export function roundOrder<T>(targets: readonly T[], roundIndex: number): T[] {
  return roundIndex % 2 === 0 ? [...targets] : [...targets].reverse();
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const m = median(values);
  if (m === undefined) return undefined;
  return { median: m, min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const resultOf = (round: RoundResult, label: string) => round.results.find((r) => r.label === label && !r.unavailable);

/** The figures of one target's metric, one per round where it was measured. */
export function roundValues(rounds: readonly RoundResult[], label: string, id: MetricId): number[] {
  return rounds.flatMap((round) => {
    const v = resultOf(round, label)?.values[id];
    return v === undefined ? [] : [v];
  });
}

/**
 * Per round, how many times as good `label` was as `reference` in that same round (direction-corrected).
 * Rounds where either figure is missing are left out.
 */
export function pairedRatios(rounds: readonly RoundResult[], id: MetricId, label: string, reference: string): number[] {
  return rounds.flatMap((round) => {
    const x = speedRatio(id, resultOf(round, label)?.values[id], resultOf(round, reference)?.values[id]);
    return x === undefined ? [] : [x];
  });
}

/** Target labels in first-round order (the order given to --only), then any seen only later. */
export function roundLabels(rounds: readonly RoundResult[]): string[] {
  const labels: string[] = [];
  for (const round of rounds) for (const r of round.results) if (!labels.includes(r.label)) labels.push(r.label);
  return labels;
}

/**
 * One result per target over all rounds: each value is the median of the rounds that measured it;
 * a metric is missing (with the first round's reason) only if no round measured it, and the target
 * is unavailable only if no round could start it.
 */
export function mergeRounds(rounds: readonly RoundResult[]): TargetResult[] {
  return roundLabels(rounds).map((label) => {
    const all = rounds.flatMap((round) => round.results.filter((r) => r.label === label));
    const merged: TargetResult = {
      label,
      description: all[0].description,
      values: {},
      missing: {},
      notes: {},
      coldCachesDropped: all.every((r) => r.coldCachesDropped),
      seconds: all.reduce((sum, r) => sum + r.seconds, 0),
    };
    const available = all.filter((r) => !r.unavailable);
    if (available.length === 0) {
      merged.unavailable = all[0].unavailable;
      return merged;
    }
    for (const id of METRIC_IDS) {
      const v = median(roundValues(rounds, label, id));
      if (v !== undefined) merged.values[id] = v;
      else {
        const why = available.find((r) => r.missing[id])?.missing[id];
        if (why) merged.missing[id] = why;
      }
      const note = available.find((r) => r.notes[id])?.notes[id];
      if (note) merged.notes[id] = note;
    }
    return merged;
  });
}

export interface ProbeSummary {
  cpuMs: Summary;
  fsyncMs: Summary;
  /** Per round, the medians of its probes: shows drift across the run. */
  perRound: { round: number; cpuMs: number; fsyncMs: number }[];
}

export function summarizeProbes(rounds: readonly RoundResult[]): ProbeSummary | undefined {
  const all = rounds.flatMap((r) => r.probes);
  const cpuMs = summarize(all.map((p) => p.cpuMs));
  const fsyncMs = summarize(all.map((p) => p.fsyncMs));
  if (!cpuMs || !fsyncMs) return undefined;
  const perRound = rounds
    .filter((r) => r.probes.length > 0)
    .map((r) => ({ round: r.round, cpuMs: median(r.probes.map((p) => p.cpuMs))!, fsyncMs: median(r.probes.map((p) => p.fsyncMs))! }));
  return { cpuMs, fsyncMs, perRound };
}

/** Metrics of a target measured in some rounds but not all: "<metric id>: k of N rounds" with a reason. */
export function partialMetrics(rounds: readonly RoundResult[], label: string): { id: MetricId; measured: number; why: string }[] {
  const out: { id: MetricId; measured: number; why: string }[] = [];
  for (const id of METRIC_IDS) {
    const measured = roundValues(rounds, label, id).length;
    if (measured === 0 || measured === rounds.length) continue;
    const lacking = rounds.find((round) => resultOf(round, label)?.values[id] === undefined)!;
    const r = lacking.results.find((x) => x.label === label);
    const why = r?.unavailable ?? r?.missing[id] ?? 'not run';
    out.push({ id, measured, why: `round ${lacking.round}: ${why}` });
  }
  return out;
}
