import { fromMs } from '../util/time.js';
import type { TimeSet } from '../vfs/types.js';

// Sentinels that our patch of fuse-native's C (scripts/patch-fuse-native.mjs) sends for
// UTIME_NOW and UTIME_OMIT; every other value is milliseconds since the epoch.
export const UTIME_NOW_ARG = 2 ** 53 - 1;
export const UTIME_OMIT_ARG = 2 ** 53 - 2;

/** One utimens argument -> a TimeSet ('now'), or undefined for UTIME_OMIT. */
export function decodeUtimensArg(arg: Date | number): TimeSet | undefined {
  const ms = typeof arg === 'number' ? arg : arg.getTime();
  if (ms === UTIME_NOW_ARG) return 'now';
  if (ms === UTIME_OMIT_ARG) return undefined;
  return fromMs(ms);
}
