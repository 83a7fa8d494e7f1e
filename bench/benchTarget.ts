// Runs the phases against one target, always stopping it afterwards.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchConfig } from './config.js';
import type { TargetResult } from './metrics.js';
import type { Phase, PhaseContext } from './phases.js';
import { WorkloadTimeout, type WorkloadRunner } from './runWorkload.js';
import type { Tarball } from './tarball.js';
import type { Target } from './targets/Target.js';

export const NOT_A_MOUNT = 'not applicable (no mount process)';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);

export function progress(text: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${text}\n`);
}

export async function benchTarget(
  target: Target,
  cfg: BenchConfig,
  tarball: Tarball,
  phases: Phase[],
  runner: WorkloadRunner,
): Promise<TargetResult> {
  const started = Date.now();
  const result: TargetResult = {
    label: target.label,
    description: target.description,
    values: {},
    missing: {},
    notes: {},
    coldCachesDropped: true,
    seconds: 0,
  };
  progress(`${target.label}: starting`);
  try {
    const root = await target.start();
    const dir = path.join(root, 'bench');
    await mkdir(dir);
    let dead: string | undefined;
    for (const phase of phases) {
      if (phase.needsServingPid && target.servingPid() === undefined) {
        for (const id of phase.metrics) result.missing[id] = NOT_A_MOUNT;
        continue;
      }
      if (dead) {
        for (const id of phase.metrics) result.missing[id] = dead;
        continue;
      }
      const pending = new Set(phase.metrics);
      const ctx: PhaseContext = {
        target,
        dir,
        cfg,
        tarball,
        run: (name, ...args) => runner.run(name, args, cfg.workloadTimeoutSec * 1000, () => target.stop()),
        set(id, value) {
          result.values[id] = value;
          pending.delete(id);
        },
        async cold() {
          if (!(await target.makeCold())) result.coldCachesDropped = false;
        },
      };
      const t0 = Date.now();
      try {
        await phase.run(ctx);
        progress(`${target.label}: ${phase.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (e) {
        progress(`${target.label}: ${phase.name} FAILED: ${message(e)}`);
        for (const id of pending) result.missing[id] = `failed: ${message(e)}`;
        if (e instanceof WorkloadTimeout) dead = `skipped: target torn down after a timeout (${message(e)})`;
      }
    }
  } catch (e) {
    result.unavailable = message(e);
    progress(`${target.label}: unavailable: ${result.unavailable}`);
  } finally {
    await target.stop();
    result.seconds = (Date.now() - started) / 1000;
  }
  return result;
}

/** Phases owning at least one metric that failed (not merely inapplicable). */
export function failedPhases(result: TargetResult, phases: Phase[]): Phase[] {
  return phases.filter((p) => p.metrics.some((id) => result.missing[id]?.startsWith('failed')));
}

/** Fills the failed metrics of `into` from a rerun on a fallback target, noting where they came from. */
export function mergeFallback(into: TargetResult, from: TargetResult): void {
  for (const [id, why] of Object.entries(into.missing) as [keyof TargetResult['values'], string][]) {
    if (!why.startsWith('failed')) continue;
    const value = from.values[id];
    if (value !== undefined) {
      into.values[id] = value;
      into.notes[id] = `${from.label}; ${into.label} ${why}`;
      delete into.missing[id];
    } else if (from.missing[id] || from.unavailable) {
      into.missing[id] = `${why}; ${from.label}: ${from.missing[id] ?? from.unavailable}`;
    }
  }
  into.seconds += from.seconds;
  into.coldCachesDropped &&= from.coldCachesDropped;
}
