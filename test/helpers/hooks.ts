import { after } from 'node:test';
import type { AfterHook } from './tmp.js';

/** Cleanup functions run last-in first-out (a mount goes before the folder that holds it); every one runs even if one fails. */
export class Cleanups {
  private readonly fns: (() => Promise<void> | void)[] = [];

  readonly add: AfterHook = (fn) => {
    this.fns.push(fn);
  };

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.fns.length > 0) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several cleanups failed');
  }
}

/** An AfterHook bound to node:test's after() of the enclosing suite (or file, at top level). */
export function suiteCleanups(): AfterHook {
  const c = new Cleanups();
  after(() => c.run());
  return c.add;
}
