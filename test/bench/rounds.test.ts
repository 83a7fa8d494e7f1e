// The arithmetic of --rounds N (bench/rounds.ts) and how the report uses it (bench/report.ts):
// medians, paired per-round ratios, merged results, probe summaries, goal verdicts.
// node --test dist/test/bench/rounds.test.js
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricId, TargetResult } from '../../bench/metrics.js';
import { buildTable, checkGoals, ratioOf, referenceTarget, renderMarkdown, renderText, type RunReport } from '../../bench/report.js';
import {
  median,
  mergeRounds,
  pairedRatios,
  partialMetrics,
  roundOrder,
  summarize,
  summarizeProbes,
  type RoundResult,
} from '../../bench/rounds.js';

function result(label: string, values: Partial<Record<MetricId, number>>, extra: Partial<TargetResult> = {}): TargetResult {
  return { label, description: `${label} target`, values, missing: {}, notes: {}, coldCachesDropped: true, seconds: 1, ...extra };
}

function round(n: number, results: TargetResult[], cpuMs = 50, fsyncMs = 2): RoundResult {
  return {
    round: n,
    order: results.map((r) => r.label),
    probes: results.map((r) => ({ before: r.label, cpuMs, fsyncMs })),
    results,
  };
}

function report(rounds: RoundResult[]): RunReport {
  return {
    date: '2026-11-22T00:00:00Z',
    mode: 'quick',
    machine: {},
    config: { seqSize: '128 MiB', rssSize: '512 MiB' },
    results: mergeRounds(rounds),
    rounds,
  };
}

describe('roundOrder', () => {
  it('runs the targets forward, then reversed, alternating', () => {
    const t = ['a', 'b', 'c'];
    assert.deepEqual(roundOrder(t, 0), ['a', 'b', 'c']);
    assert.deepEqual(roundOrder(t, 1), ['c', 'b', 'a']);
    assert.deepEqual(roundOrder(t, 2), ['a', 'b', 'c']);
    assert.deepEqual(t, ['a', 'b', 'c'], 'the input is not reordered in place');
  });
});

describe('median and summarize', () => {
  it('takes the middle of an odd count and the mean of the two middles of an even one, unsorted input', () => {
    assert.equal(median([9, 1, 5]), 5);
    assert.equal(median([4, 1, 3, 10]), 3.5);
    assert.equal(median([7]), 7);
    assert.equal(median([]), undefined);
  });

  it('reports the median with the extremes and the count', () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
    assert.equal(summarize([]), undefined);
  });
});

describe('pairedRatios', () => {
  it('pairs each round with the reference of the same round, direction-corrected', () => {
    const rounds = [
      round(1, [result('ref', { randRead: 100, tarExtract: 2 }), result('x', { randRead: 200, tarExtract: 4 })]),
      round(2, [result('x', { randRead: 30, tarExtract: 1 }), result('ref', { randRead: 10, tarExtract: 4 })]),
    ];
    assert.deepEqual(pairedRatios(rounds, 'randRead', 'x', 'ref'), [2, 3]);
    // tar time: lower is better, so taking twice as long is 0.5x
    assert.deepEqual(pairedRatios(rounds, 'tarExtract', 'x', 'ref'), [0.5, 4]);
  });

  it('leaves out rounds where either side has no figure or could not start', () => {
    const rounds = [
      round(1, [result('ref', { randRead: 100 }), result('x', { randRead: 150 })]),
      round(2, [result('ref', {}, { missing: { randRead: 'failed: boom' } }), result('x', { randRead: 900 })]),
      round(3, [result('ref', { randRead: 100 }), result('x', { randRead: 900 }, { unavailable: 'mount failed' })]),
    ];
    assert.deepEqual(pairedRatios(rounds, 'randRead', 'x', 'ref'), [1.5]);
  });
});

describe('mergeRounds', () => {
  it('keeps first-round order and takes each metric median over the rounds that measured it', () => {
    const rounds = [
      round(1, [result('a', { seqWrite: 10, randRead: 1 }), result('b', { seqWrite: 100 })]),
      round(2, [result('b', { seqWrite: 300 }), result('a', { seqWrite: 30 }, { missing: { randRead: 'failed: x' } })]),
      round(3, [result('a', { seqWrite: 20 }, { missing: { randRead: 'failed: y' } }), result('b', { seqWrite: 200 })]),
    ];
    const [a, b] = mergeRounds(rounds);
    assert.equal(a.label, 'a');
    assert.equal(b.label, 'b');
    assert.equal(a.values.seqWrite, 20);
    assert.equal(b.values.seqWrite, 200);
    assert.equal(a.values.randRead, 1, 'measured in one round only: that figure');
    assert.equal(a.missing.randRead, undefined);
    assert.equal(a.seconds, 3);
    assert.deepEqual(partialMetrics(rounds, 'a'), [{ id: 'randRead', measured: 1, why: 'round 2: failed: x' }]);
    assert.deepEqual(partialMetrics(rounds, 'b'), []);
  });

  it('marks a metric missing only when no round measured it, and a target unavailable only when no round started it', () => {
    const rounds = [
      round(1, [result('a', {}, { missing: { smallStat: 'failed: one' } }), result('b', {}, { unavailable: 'no fuse' })]),
      round(2, [result('b', {}, { unavailable: 'no fuse again' }), result('a', {}, { missing: { smallStat: 'failed: two' } })]),
    ];
    const [a, b] = mergeRounds(rounds);
    assert.equal(a.missing.smallStat, 'failed: one');
    assert.equal(a.unavailable, undefined);
    assert.equal(b.unavailable, 'no fuse');
  });

  it('keeps cold-cache trouble of any round', () => {
    const rounds = [round(1, [result('a', { seqWrite: 1 })]), round(2, [result('a', { seqWrite: 2 }, { coldCachesDropped: false })])];
    assert.equal(mergeRounds(rounds)[0].coldCachesDropped, false);
  });
});

describe('summarizeProbes', () => {
  it('summarises every probe and gives each round its own medians', () => {
    const rounds = [round(1, [result('a', {}), result('b', {})], 50, 2), round(2, [result('a', {}), result('b', {})], 150, 8)];
    rounds[1].probes[1].cpuMs = 250;
    const s = summarizeProbes(rounds)!;
    assert.deepEqual(s.cpuMs, { median: 100, min: 50, max: 250, n: 4 });
    assert.deepEqual(s.fsyncMs, { median: 5, min: 2, max: 8, n: 4 });
    assert.deepEqual(s.perRound, [
      { round: 1, cpuMs: 50, fsyncMs: 2 },
      { round: 2, cpuMs: 200, fsyncMs: 8 },
    ]);
  });
});

describe('report with several rounds', () => {
  // The machine is 10x slower in round 2 and 3x faster in round 3; each round's ratio is its own.
  const rounds = [
    round(1, [result('local', { seqWrite: 1000, smallCreate: 1000 }), result('mosaicfs', { seqWrite: 500, smallCreate: 250 })]),
    round(2, [result('mosaicfs', { seqWrite: 60, smallCreate: 30 }), result('local', { seqWrite: 100, smallCreate: 100 })]),
    round(3, [result('local', { seqWrite: 3000, smallCreate: 2000 }), result('mosaicfs', { seqWrite: 2700, smallCreate: 400 })]),
  ];
  const r = report(rounds);

  it('takes the first target as the reference and ratios as medians of per-round ratios', () => {
    assert.equal(referenceTarget(r)?.label, 'local');
    // per-round seqWrite ratios 0.5, 0.6, 0.9; the medians 500/1000 would give 0.5
    assert.deepEqual(ratioOf(r, 'seqWrite', 'mosaicfs', 'local'), { median: 0.6, min: 0.5, max: 0.9, n: 3 });
    const row = buildTable(r).rows.find((row) => row[0].startsWith('sequential write'))!;
    assert.deepEqual(row.slice(2), ['1,000', '500 (0.60×, 0.50-0.90)']);
  });

  it('checks the goals against the medians of per-round ratios', () => {
    const goals = checkGoals(r);
    const seq = goals.find((g) => g.goal.startsWith('sequential write'))!;
    assert.equal(seq.verdict, 'NOT met');
    assert.equal(seq.measured, '0.60× (0.50-0.90)');
    const faster = report([
      round(1, [result('local', { seqWrite: 100 }), result('mosaicfs', { seqWrite: 90 })]),
      round(2, [result('mosaicfs', { seqWrite: 9 }), result('local', { seqWrite: 10 })]),
      round(3, [result('local', { seqWrite: 200 }), result('mosaicfs', { seqWrite: 20 })]),
    ]);
    // per-round 0.9, 0.9, 0.1: median 0.9, met; the ratio of the medians (20 / 100 = 0.2x) would say NOT met
    const seqFaster = checkGoals(faster).find((g) => g.goal.startsWith('sequential write'))!;
    assert.equal(seqFaster.verdict, 'met');
    assert.equal(seqFaster.measured, '0.90× (0.10-0.90)');
  });

  it('says how the ratios were taken, shows the probes, and notes figures missing from some rounds', () => {
    const partial = report([
      round(1, [result('local', { seqWrite: 10 }), result('mosaicfs', { seqWrite: 5 })], 40, 1),
      round(2, [result('mosaicfs', {}, { missing: { seqWrite: 'failed: EIO' } }), result('local', { seqWrite: 10 })], 60, 3),
    ]);
    const text = renderText(partial);
    assert.match(text, /2 rounds, target order alternating \(local > mosaicfs \| mosaicfs > local\)/);
    assert.match(text, /per-round ratio pairs two measurements taken seconds apart/);
    assert.match(text, /CPU loop 50 ms \(40-60\), 64 KiB write\+fsync 2\.0 ms \(1\.0-3\.0\)/);
    assert.match(text, /mosaicfs sequential write \(1 MiB writes \+ fsync\): measured in 1 of 2 rounds \(round 2: failed: EIO\)/);
    assert.match(text, /5 \(0\.50×, 0\.50-0\.50, n=1\)/);
    assert.match(renderMarkdown(partial), /\| sequential write \(1 MiB writes \+ fsync\) \| MiB\/s \| 10 \| 5 \(0\.50×, 0\.50-0\.50, n=1\) \|/);
  });

  it('adds a paired column for the same code on both bindings', () => {
    const both = report([
      round(1, [result('local', { smallStat: 100 }), result('passthrough-kernel', { smallStat: 20 }), result('passthrough-fuse-native', { smallStat: 10 })]),
      round(2, [result('passthrough-fuse-native', { smallStat: 4 }), result('passthrough-kernel', { smallStat: 6 }), result('local', { smallStat: 50 })]),
    ]);
    const table = buildTable(both);
    assert.equal(table.header.at(-1), 'passthrough-kernel vs passthrough-fuse-native');
    assert.equal(table.rows.find((row) => row[0] === 'small files: stat')!.at(-1), '1.75×, 1.5-2.0');
  });
});

describe('report of a single round', () => {
  it('keeps the local folder as the reference, plain ratios and no round notes', () => {
    const single: RunReport = {
      date: '2026-11-22T00:00:00Z',
      mode: 'quick',
      machine: {},
      config: {},
      results: [result('mosaicfs', { seqWrite: 50 }), result('local', { seqWrite: 100 })],
    };
    assert.equal(referenceTarget(single)?.label, 'local');
    const row = buildTable(single).rows.find((row) => row[0].startsWith('sequential write'))!;
    assert.deepEqual(row.slice(2), ['50 (0.50×)', '100']);
    assert.doesNotMatch(renderText(single), /rounds|machine probe/);
  });
});
