/**
 * s3rver as a child process that can be killed and started again on the SAME port and folder (a
 * backend that goes down and comes back). test/helpers/s3Server.ts picks a fresh port and folder
 * per start, which a volume's config (endpoint URL) cannot follow.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { trackChild } from '../helpers/cleanup.js';
import { spawnS3rver } from '../helpers/s3Server.js';

export { S3RVER_CREDENTIALS } from '../helpers/s3Server.js';

export class S3rverProcess {
  private child: ChildProcess | null = null;
  port = 0;

  /** `dir` holds the objects and outlives restarts; the caller removes it. */
  constructor(readonly dir: string, readonly bucket = 'mosaicfs-e2e') {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start (the first time on a free port, later on the same one). */
  async start(): Promise<void> {
    if (this.running) throw new Error('s3rver already running');
    const { child, port } = await spawnS3rver({ dir: this.dir, bucket: this.bucket, port: this.port });
    trackChild(child);
    this.child = child;
    this.port = port;
  }

  /** SIGKILL (a crash: no goodbye to clients) and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
