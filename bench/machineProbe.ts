// A cheap reading of how fast the (shared, noisy) machine is right now: a fixed CPU loop and a
// fixed small fsync'd write. Taken before each target of each round so a report shows the drift.
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ProbeSample } from './rounds.js';

/** Iterations of the CPU loop: about 50 ms on this project's 2-vCPU VM when it is quiet. */
const CPU_ITERATIONS = 17_000_000;
const WRITE_BYTES = 64 * 1024;

/** xorshift32 steps; the result is returned so the loop cannot be optimised away. */
function cpuLoop(iterations: number): number {
  let x = 2463534242;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

// Warmed up once so the first sample does not include compiling the loop.
let sink = cpuLoop(1_000_000);

export async function probeMachine(dir: string, before: string): Promise<ProbeSample> {
  const t0 = performance.now();
  sink ^= cpuLoop(CPU_ITERATIONS);
  const cpuMs = performance.now() - t0;

  const file = path.join(dir, `.machine-probe-${process.pid}`);
  const data = Buffer.alloc(WRITE_BYTES, sink & 0xff);
  const t1 = performance.now();
  const fh = await open(file, 'w');
  try {
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const fsyncMs = performance.now() - t1;
  await rm(file, { force: true });
  return { before, cpuMs, fsyncMs };
}
