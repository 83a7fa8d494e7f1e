import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

/** s3rver's built-in account (the test credentials every S3 test uses). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  bucket: string;
  /** The child's pid (so a test can check it is gone). */
  pid: number;
  /** Stops the process and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The s3rver child: listens on 127.0.0.1 (S3RVER_PORT, or a free port), creates the bucket, prints its port as
 * one JSON line, and exits when its stdin closes (so it never outlives a test runner that dies).
 * CommonJS via `node -e`, so it runs the same under tsx and from dist/.
 */
const CHILD_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver({
  address: '127.0.0.1', port: Number(process.env.S3RVER_PORT ?? 0), silent: true,
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

/**
 * Spawn the s3rver child on `port` (0: a free one) over `dir` and wait until it listens. On failure
 * the child is stopped and the error says why. Used by startS3Server and by restartable servers
 * (test/backends/s3rverProcess.ts).
 */
export async function spawnS3rver(opts: { dir: string; bucket: string; port?: number }): Promise<{ child: ChildProcess; port: number }> {
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
  // legacy provider: without it every truncated listing is a 500.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT], {
    env: {
      ...process.env, S3RVER_MODULE: createRequire(import.meta.url).resolve('s3rver'),
      S3RVER_DIR: opts.dir, S3RVER_BUCKET: opts.bucket, S3RVER_PORT: String(opts.port ?? 0),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    return { child, port: await readPort(child, () => stderr) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Start s3rver as a separate process on loopback with a temp folder and one bucket. */
export async function startS3Server(bucket = 'mosaicfs-test'): Promise<S3TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-s3rver-'));
  let spawned;
  try {
    spawned = await spawnS3rver({ dir, bucket });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { child, port } = spawned;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  return { endpoint: `http://127.0.0.1:${port}`, bucket, pid: child.pid!, stop };
}

async function readPort(child: ChildProcess, stderr: () => string): Promise<number> {
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`s3rver exited (code ${code}) before listening: ${stderr()}`);
  });
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr()}`)), 20_000);
    t.unref();
  });
  const first = (async () => {
    for await (const line of lines) return (JSON.parse(line) as { port: number }).port;
    throw new Error(`s3rver closed its output: ${stderr()}`);
  })();
  try {
    return await Promise.race([first, exited, timeout]);
  } finally {
    exited.catch(() => undefined);
    lines.close();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
