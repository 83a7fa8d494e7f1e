import cliProgress from 'cli-progress';
import { formatBytes } from './units.js';

/** Byte progress of one transfer: a single bar for the total (bytes, rate, ETA). */
export interface Progress {
  add(bytes: number): void;
  stop(): void;
}

const QUIET: Progress = { add() {}, stop() {} };

/** A bar on stderr when stderr is a terminal or when forced (--progress); otherwise silent. */
export function startProgress(totalBytes: number, forced: boolean): Progress {
  const tty = process.stderr.isTTY === true;
  if (!tty && !forced) return QUIET;
  const started = Date.now();
  const bar = new cliProgress.SingleBar({
    format: '{bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted}',
    stream: process.stderr,
    noTTYOutput: !tty,
    notTTYSchedule: 1000,
    hideCursor: tty ? true : null,
    etaBuffer: 50,
  });
  let value = 0;
  const payload = () => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    return { done: formatBytes(value), size: formatBytes(totalBytes), rate: formatBytes(Math.round(value / secs)) };
  };
  bar.start(Math.max(totalBytes, 1), 0, payload());
  return {
    add(bytes: number) {
      value += bytes;
      bar.update(Math.min(value, Math.max(totalBytes, 1)), payload());
    },
    stop() {
      if (totalBytes === 0) bar.update(1, payload());
      bar.stop();
    },
  };
}
