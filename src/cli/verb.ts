import { log } from '../util/log.js';

let shortLivedRan = false;

/**
 * Wrap the action of a short-lived verb (everything but mount): logs default to "warn" unless
 * MOSAICFS_LOG says otherwise, and main exits as soon as the action is done.
 */
export function verb<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    shortLivedRan = true;
    if (!process.env.MOSAICFS_LOG) log.level = 'warn';
    await fn(...args);
  };
}

export function ranShortLivedVerb(): boolean {
  return shortLivedRan;
}
