import { CommanderError } from 'commander';
import { describeError, ReportedFailure, UsageError } from './errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** 0 success, 1 failure or "problems found", 2 usage error: what scripts can rely on. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return EXIT_OK; // --help, --version
    if (err.code === 'commander.error') return err.exitCode; // program.error() with a chosen code
    return EXIT_USAGE;
  }
  if (err instanceof ReportedFailure) return err.exitCode;
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** One line `mosaicfs: <message>`; the stack only with MOSAICFS_DEBUG=1. */
export function reportError(err: unknown): void {
  if (err instanceof ReportedFailure) return;
  process.stderr.write(`mosaicfs: ${describeError(err)}\n`);
  if (process.env.MOSAICFS_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
}
