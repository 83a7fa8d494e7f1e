import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomInt, seededRandom } from './rng.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Concurrent writers on a mount, run until stopped or until the file system goes away under them:
 * - "durable" files: written completely, fsync'd, closed, one after another; recorded only once fsync returned;
 * - "append" files: appended to, with an fsync every few appends; the length at the last completed fsync is durable;
 * - "scribble" files: random writes at random offsets, never fsync'd (only the volume's consistency matters).
 * Tracks how many operations are in flight, so a test can prove it killed the daemon mid-write.
 */
export class WriteStorm {
  /** Files whose every byte was fsync'd: path relative to the root -> content. */
  readonly durable = new Map<string, Buffer>();
  /** Append files: path -> all bytes appended so far, and how many of them an fsync covered. */
  readonly appends = new Map<string, { data: Buffer; syncedLength: number }>();
  inFlight = 0;
  completedWrites = 0;
  private stopped = false;
  private readonly rand: () => number;
  private readonly errors: unknown[] = [];
  private done: Promise<void> | undefined;

  constructor(readonly root: string, seed: number) {
    this.rand = seededRandom(seed);
  }

  start(): void {
    this.done = Promise.all([
      this.guard(this.durableWriter()),
      this.guard(this.appendWriter('append-0')),
      this.guard(this.appendWriter('append-1')),
      this.guard(this.scribbler('scribble-0')),
      this.guard(this.scribbler('scribble-1')),
    ]).then(() => undefined);
  }

  /** Stop and wait for every writer; returns the errors they ended with (expected after a crash). */
  async stop(): Promise<unknown[]> {
    this.stopped = true;
    await this.done;
    return this.errors;
  }

  private async guard(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      this.stopped = true;
      this.errors.push(err);
    }
  }

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
    }
  }

  private async write(fh: fs.FileHandle, data: Buffer, pos: number): Promise<void> {
    await this.op(() => fh.write(data, 0, data.length, pos));
    this.completedWrites++;
  }

  private async durableWriter(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const name = `durable-${i}`;
      const content = randomBytes(randomInt(this.rand, 1, 6 * MiB));
      const fh = await this.op(() => fs.open(path.join(this.root, name), 'w'));
      try {
        // Pieces in a random order, so the fsync has to cover out-of-order buffered writes.
        const pieces: [number, number][] = [];
        for (let off = 0; off < content.length;) {
          const len = Math.min(content.length - off, randomInt(this.rand, 1, 512 * KiB));
          pieces.push([off, len]);
          off += len;
        }
        pieces.sort(() => this.rand() - 0.5);
        for (const [off, len] of pieces) await this.write(fh, content.subarray(off, off + len), off);
        await this.op(() => fh.sync());
        this.durable.set(name, content);
      } finally {
        await fh.close().catch(() => undefined);
      }
    }
  }

  private async appendWriter(name: string): Promise<void> {
    const state = { data: Buffer.alloc(0), syncedLength: 0 };
    const fh = await this.op(() => fs.open(path.join(this.root, name), 'w'));
    this.appends.set(name, state);
    try {
      for (let n = 1; !this.stopped; n++) {
        const piece = randomBytes(randomInt(this.rand, 1, 200 * KiB));
        const at = state.data.length;
        await this.write(fh, piece, at);
        state.data = Buffer.concat([state.data, piece]);
        if (n % 5 === 0) {
          const length = state.data.length;
          await this.op(() => fh.sync());
          state.syncedLength = length;
        }
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  private async scribbler(name: string): Promise<void> {
    const fh = await this.op(() => fs.open(path.join(this.root, name), 'w'));
    try {
      while (!this.stopped) {
        await this.write(fh, randomBytes(randomInt(this.rand, 1, 300 * KiB)), randomInt(this.rand, 0, 10 * MiB));
        if (this.rand() < 0.1) await this.op(() => fh.truncate(randomInt(this.rand, 0, 10 * MiB)));
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}
