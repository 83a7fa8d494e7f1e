import { once } from 'node:events';
import { ReportedFailure, UsageError, describeError as describe } from './errors.js';

let stdoutBroken = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') stdoutBroken = true;
  else throw err;
});

/** Write to stdout honouring back-pressure; a closed pipe (`| head`) ends the command quietly with exit 1. */
export async function writeStdout(data: string | Uint8Array): Promise<void> {
  if (stdoutBroken) throw new ReportedFailure(1);
  if (!process.stdout.write(data)) {
    await Promise.race([once(process.stdout, 'drain'), once(process.stdout, 'error').catch(() => {})]);
  }
  if (stdoutBroken) throw new ReportedFailure(1);
}

/** Per-operand failures of a multi-operand verb: report each as it happens, fail at the end. */
export class OperandErrors {
  private count = 0;

  constructor(private readonly verbName: string) {}

  async each<T>(items: T[], label: (item: T) => string, fn: (item: T) => Promise<void>): Promise<void> {
    for (const item of items) {
      try {
        await fn(item);
      } catch (err) {
        if (err instanceof ReportedFailure || err instanceof UsageError) throw err;
        this.report(label(item), err);
      }
    }
  }

  report(what: string, err: unknown): void {
    this.count++;
    process.stderr.write(`mosaicfs: ${this.verbName} ${what}: ${describe(err)}\n`);
    if (process.env.MOSAICFS_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  }

  /** Throws ReportedFailure if any operand failed. */
  finish(): void {
    if (this.count > 0) throw new ReportedFailure(1);
  }
}
