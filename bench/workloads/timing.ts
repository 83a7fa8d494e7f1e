import { performance } from 'node:perf_hooks';

export const nowSec = () => performance.now() / 1000;

/** Runs fn and returns its wall time in seconds. */
export function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

export const MiB = 1024 * 1024;
