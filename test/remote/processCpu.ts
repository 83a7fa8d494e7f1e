import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture node supports. */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU time (user + system, ms) a live process has used so far, from /proc/<pid>/stat. Synchronous on
 * purpose: a test that writes to a mount may have every libuv pool thread blocked in the mount,
 * so an async read could wait for minutes behind them.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted from after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_S;
}
