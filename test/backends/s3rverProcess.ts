/**
 * s3rver as a child process that can be killed and started again on the SAME port and folder (a
 * backend that goes down and comes back). test/helpers/s3Server.ts picks a fresh port and folder
 * per start, which a volume's config (endpoint URL) cannot follow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { trackChild } from '../helpers/cleanup.js';

export { S3RVER_CREDENTIALS } from '../helpers/s3Server.js';

const CHILD_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver({
  address: '127.0.0.1', port: Number(process.env.S3RVER_PORT), silent: true,
  directory: process.env.S3RVER_DIR,
  configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
});
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n');
}, (err) => { console.error(err); process.exit(1); });
const bye = () => server.close(() => process.exit(0));
process.stdin.on('end', bye); process.stdin.on('close', bye); process.stdin.resume();
process.on('SIGTERM', bye);
`;

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
    const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT], {
      env: {
        ...process.env, S3RVER_MODULE: createRequire(import.meta.url).resolve('s3rver'),
        S3RVER_DIR: this.dir, S3RVER_BUCKET: this.bucket, S3RVER_PORT: String(this.port),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    trackChild(child);
    this.child = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const lines = createInterface({ input: child.stdout! });
    const exited = once(child, 'exit').then(([code]) => { throw new Error(`s3rver exited (${code}) before listening: ${stderr}`); });
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`s3rver did not start: ${stderr}`)), 20_000); });
    try {
      const port = await Promise.race([
        (async () => {
          for await (const line of lines) return (JSON.parse(line) as { port: number }).port;
          throw new Error(`s3rver closed its output: ${stderr}`);
        })(),
        exited, timeout,
      ]);
      this.port = port;
    } catch (err) {
      await this.kill();
      throw err;
    } finally {
      clearTimeout(timer);
      lines.close();
    }
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
