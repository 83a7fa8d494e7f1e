// The benchmark harness: node dist/bench/run.js [--quick] [--only a,b] [--size 512M] [--rounds N]
// Measures a local folder, a mosaicfs mount, rclone mount and sshfs in one run,
// prints a table and writes bench/results/<date>.{json,md}. Not part of npm test.
// With --rounds N every target runs N times, in alternating order, each time after a machine-speed probe.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchTarget, failedPhases, mergeFallback, progress } from './benchTarget.js';
import { formatBytes, parseArgs, treeDirCount, type BenchConfig, type TargetName } from './config.js';
import type { TargetResult } from './metrics.js';
import { PHASES } from './phases.js';
import { probeMachine } from './machineProbe.js';
import { isRoot, run } from './proc.js';
import { renderMarkdown, renderText, type RunReport } from './report.js';
import { repoRoot } from './repoRoot.js';
import { mergeRounds, roundOrder, type RoundResult } from './rounds.js';
import { WorkloadRunner } from './runWorkload.js';
import { makeTarball } from './tarball.js';
import { LocalTarget } from './targets/localTarget.js';
import { MosaicfsTarget } from './targets/mosaicfsTarget.js';
import { PassthroughTarget } from './targets/passthroughTarget.js';
import { RcloneTarget } from './targets/rcloneTarget.js';
import { SshfsTarget } from './targets/sshfsTarget.js';
import { hasFallback, type Target } from './targets/Target.js';

function makeTarget(name: TargetName, workRoot: string): Target {
  switch (name) {
    case 'local':
      return new LocalTarget(workRoot);
    case 'mosaicfs':
      return new MosaicfsTarget(workRoot);
    case 'mosaicfs-fuse-native':
      return new MosaicfsTarget(workRoot, 'fuse-native');
    case 'rclone':
      return new RcloneTarget(workRoot, 'off');
    case 'sshfs':
      return new SshfsTarget(workRoot);
    case 'passthrough-kernel':
      return new PassthroughTarget(workRoot, 'kernel');
    case 'passthrough-fuse-native':
      return new PassthroughTarget(workRoot, 'fuse-native');
  }
}

async function describeMachine(workRoot: string): Promise<Record<string, string>> {
  const safe = async (cmd: string, args: string[]) => (await run(cmd, args).catch((e: Error) => e.message)).trim();
  return {
    nproc: await safe('nproc', []),
    memory: freeMemory(await safe('free', ['-h'])),
    kernel: await safe('uname', ['-sr']),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    disk: (await safe('df', ['-h', workRoot])).split('\n').slice(-1)[0].replace(/\s+/g, ' '),
    node: process.version,
    rclone: (await safe('rclone', ['version'])).split('\n')[0],
    sshfs: (await safe('sshfs', ['--version'])).split('\n').find((l) => /sshfs version/i.test(l)) ?? 'missing',
  };
}

/** "total 23Gi, available 22Gi, swap 0B" from `free -h`. */
function freeMemory(free: string): string {
  const lines = free.split('\n').map((l) => l.trim().split(/\s+/));
  const mem = lines.find((l) => l[0] === 'Mem:');
  const swap = lines.find((l) => l[0] === 'Swap:');
  return mem ? `total ${mem[1]}, available ${mem[6]}, swap ${swap?.[1] ?? '?'}` : free;
}

function configSummary(cfg: BenchConfig): Record<string, unknown> {
  return {
    seqSize: formatBytes(cfg.seqBytes),
    randomFile: formatBytes(cfg.randomFileBytes),
    randomSeconds: cfg.randomSeconds,
    smallFiles: `${cfg.smallFiles} x ${formatBytes(cfg.smallFileBytes)}`,
    treeDirs: treeDirCount(cfg.treeFanout) + 1,
    treeRenames: cfg.treeRenames,
    ttfbTrials: cfg.ttfbTrials,
    rssSize: formatBytes(cfg.rssBytes),
  };
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2), {
    workRoot: os.tmpdir(),
    resultsDir: path.join(repoRoot, 'bench', 'results'),
  });
  if (!isRoot()) progress('not root: page caches cannot be dropped, "cold" figures will be warm');
  const runRoot = await mkdtemp(path.join(cfg.workRoot, 'mosaicfs-bench-'));
  let active: Target | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: cleaning up`);
    void (active?.stop() ?? Promise.resolve())
      .then(() => rm(runRoot, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const runner = new WorkloadRunner();
  const results: TargetResult[] = [];
  const rounds: RoundResult[] = [];
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  try {
    const machine = await describeMachine(cfg.workRoot);
    const tarball = await makeTarball(runRoot);
    progress(`tarball: ${tarball.entries} entries, ${formatBytes(tarball.bytes)} of file data`);
    const runCfg = { ...cfg, workRoot: runRoot };
    const benchOne = async (name: TargetName): Promise<TargetResult> => {
      const target = makeTarget(name, runRoot);
      active = target;
      const result = await benchTarget(target, runCfg, tarball, PHASES, runner);
      const retry = failedPhases(result, PHASES);
      if (hasFallback(target) && retry.length > 0 && !result.unavailable) {
        const fallback = target.fallback();
        active = fallback;
        progress(`${target.label}: rerunning ${retry.map((p) => p.name).join(', ')} on ${fallback.label}`);
        mergeFallback(result, await benchTarget(fallback, runCfg, tarball, retry, runner));
      }
      active = undefined;
      return result;
    };
    if (cfg.rounds === 1) {
      for (const name of cfg.targets) results.push(await benchOne(name));
    } else {
      for (let i = 0; i < cfg.rounds; i++) {
        const round: RoundResult = { round: i + 1, order: [], probes: [], results: [] };
        for (const name of roundOrder(cfg.targets, i)) {
          const probe = await probeMachine(runRoot, name);
          progress(`round ${i + 1}/${cfg.rounds}, before ${name}: cpu loop ${probe.cpuMs.toFixed(0)} ms, 64 KiB write+fsync ${probe.fsyncMs.toFixed(1)} ms`);
          round.probes.push(probe);
          const result = await benchOne(name);
          round.order.push(result.label);
          round.results.push(result);
        }
        rounds.push(round);
      }
      results.push(...mergeRounds(rounds));
    }
    const report: RunReport = {
      date,
      mode: cfg.quick ? 'quick' : 'full',
      machine,
      config: {
        ...configSummary(cfg),
        tarball: `${tarball.entries} entries, ${formatBytes(tarball.bytes)}`,
        ...(cfg.rounds > 1 ? { rounds: cfg.rounds } : {}),
      },
      results,
      ...(cfg.rounds > 1 ? { rounds } : {}),
    };
    console.log(renderText(report));
    await mkdir(cfg.resultsDir, { recursive: true });
    const stem = path.join(cfg.resultsDir, `${date.replace(/:/g, '-')}${cfg.quick ? '-quick' : ''}`);
    await writeFile(`${stem}.json`, JSON.stringify(report, null, 2) + '\n');
    await writeFile(`${stem}.md`, renderMarkdown(report));
    progress(`wrote ${path.relative(process.cwd(), stem)}.json and .md`);
  } finally {
    await runner.close();
    await active?.stop();
    await rm(runRoot, { recursive: true, force: true }).catch(() => {});
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
