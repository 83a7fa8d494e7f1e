// The workload phases run against each target. A phase sets the metrics it
// measured; if it throws, the metrics it had not set yet are marked failed.
import { mkdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { BenchConfig } from './config.js';
import type { MetricId } from './metrics.js';
import { readProcMemory } from './proc.js';
import type { Tarball } from './tarball.js';
import type { Target } from './targets/Target.js';
import type { WorkloadArgs, WorkloadName, WorkloadResult } from './workloads/index.js';

export interface PhaseContext {
  target: Target;
  /** A fresh folder on the target for this run. */
  dir: string;
  cfg: BenchConfig;
  tarball: Tarball;
  run<N extends WorkloadName>(name: N, ...args: WorkloadArgs<N>): Promise<WorkloadResult>;
  set(id: MetricId, value: number): void;
  /** Makes the target cold; records if the kernel caches could not be dropped. */
  cold(): Promise<void>;
}

export interface Phase {
  name: string;
  metrics: MetricId[];
  /** Phases only meaningful for mounts (peak RSS of the serving process). */
  needsServingPid?: boolean;
  run(ctx: PhaseContext): Promise<void>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sequential: Phase = {
  name: 'sequential',
  metrics: ['seqWrite', 'seqReadCold', 'seqReadWarm', 'ttfbCold'],
  async run(ctx) {
    const file = path.join(ctx.dir, 'seq.bin');
    try {
      ctx.set('seqWrite', (await ctx.run('seqWrite', file, ctx.cfg.seqBytes)).MiBps);
      await ctx.cold();
      const cold = await ctx.run('seqRead', file);
      if (cold.bytes !== ctx.cfg.seqBytes) throw new Error(`read back ${cold.bytes} of ${ctx.cfg.seqBytes} bytes`);
      ctx.set('seqReadCold', cold.MiBps);
      ctx.set('seqReadWarm', (await ctx.run('seqRead', file)).MiBps);
      const trials: number[] = [];
      for (let i = 0; i < ctx.cfg.ttfbTrials; i++) {
        await ctx.cold();
        trials.push((await ctx.run('timeToFirstByte', file)).ms);
      }
      ctx.set('ttfbCold', median(trials));
    } finally {
      await unlink(file).catch(() => {});
    }
  },
};

const random: Phase = {
  name: 'random 4 KiB',
  metrics: ['randRead', 'randWrite'],
  async run(ctx) {
    const file = path.join(ctx.dir, 'random.bin');
    try {
      await ctx.run('seqWrite', file, ctx.cfg.randomFileBytes);
      await ctx.cold();
      ctx.set('randRead', (await ctx.run('randomRead', file, ctx.cfg.randomSeconds)).iops);
      ctx.set('randWrite', (await ctx.run('randomWrite', file, ctx.cfg.randomSeconds)).iops);
    } finally {
      await unlink(file).catch(() => {});
    }
  },
};

const smallFiles: Phase = {
  name: 'small files',
  metrics: ['smallCreate', 'smallStat', 'smallRead', 'smallDelete'],
  async run(ctx) {
    const dir = path.join(ctx.dir, 'small');
    try {
      const r = await ctx.run('smallFiles', dir, ctx.cfg.smallFiles, ctx.cfg.smallFileBytes);
      ctx.set('smallCreate', r.createPerSec);
      ctx.set('smallStat', r.statPerSec);
      ctx.set('smallRead', r.readPerSec);
      ctx.set('smallDelete', r.deletePerSec);
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  },
};

const dirTree: Phase = {
  name: 'directory tree',
  metrics: ['treeMkdir', 'treeList', 'treeRename', 'treeRemove'],
  async run(ctx) {
    const base = path.join(ctx.dir, 'trees');
    await rm(base, { recursive: true, force: true });
    await mkdir(base);
    try {
      const r = await ctx.run('dirTree', base, ctx.cfg.treeFanout, ctx.cfg.treeRenames);
      ctx.set('treeMkdir', r.mkdirPerSec);
      ctx.set('treeList', r.listPerSec);
      ctx.set('treeRename', r.renamePerSec);
      ctx.set('treeRemove', r.removePerSec);
    } finally {
      await rm(base, { recursive: true, force: true }).catch(() => {});
    }
  },
};

const tar: Phase = {
  name: 'tar extraction',
  metrics: ['tarExtract'],
  async run(ctx) {
    const dir = path.join(ctx.dir, 'untar');
    try {
      ctx.set('tarExtract', (await ctx.run('tarExtract', ctx.tarball.file, dir)).seconds);
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  },
};

const RSS_SAMPLE_MS = 100;

const rss: Phase = {
  name: 'peak RSS',
  metrics: ['rssPeak'],
  needsServingPid: true,
  async run(ctx) {
    const file = path.join(ctx.dir, 'big.bin');
    await ctx.cold(); // a fresh serving process, so VmHWM covers this copy only
    const pid = ctx.target.servingPid();
    if (pid === undefined) throw new Error('serving process not found');
    let sampledKiB = 0;
    const sample = () => {
      const m = readProcMemory(pid);
      if (m) sampledKiB = Math.max(sampledKiB, m.rssKiB, Number.isFinite(m.hwmKiB) ? m.hwmKiB : 0);
    };
    const timer = setInterval(sample, RSS_SAMPLE_MS);
    try {
      await ctx.run('seqWrite', file, ctx.cfg.rssBytes);
      sample();
    } finally {
      clearInterval(timer);
      await unlink(file).catch(() => {});
    }
    if (sampledKiB === 0) throw new Error(`could not read /proc/${pid}/status`);
    ctx.set('rssPeak', sampledKiB / 1024);
  },
};

export const PHASES: Phase[] = [sequential, random, smallFiles, dirTree, tar, rss];
