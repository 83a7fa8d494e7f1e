import type { VfsApi } from '../../vfs/types.js';
import type { OperandErrors } from '../output.js';
import type { Progress } from '../progress.js';

/** Files move in pieces of this size: a 50 GiB file never sits in memory. */
export const PIECE_BYTES = 1024 * 1024;

/** What a recursive copy needs: the VFS, the progress bar, and where per-item failures go. */
export interface TransferContext {
  vfs: VfsApi;
  progress: Progress;
  errors: OperandErrors;
}

/** Run one item of a tree copy; a failure is reported and the copy goes on with the next item. */
export async function tryItem(ctx: TransferContext, label: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.errors.report(label, err);
  }
}

export function warnSkipped(label: string, why: string): void {
  process.stderr.write(`mosaicfs: skipping ${label}: ${why}\n`);
}
