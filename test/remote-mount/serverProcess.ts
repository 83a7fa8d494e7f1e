/**
 * A real `mosaicfs serve` child process on 127.0.0.1 with its own data folder, for mount tests: a
 * separate process like in production (the test process's own thread pool, busy with file calls on
 * the mount, never has to serve the mount's requests too), and one that can be SIGKILLed and
 * restarted on the same port. Users are created before the first start, through the server's own
 * admin code (src/server/admin.ts) on the same data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { trackChild } from '../helpers/cleanup.js';
import { cliBin } from '../helpers/paths.js';
import { cliEnv } from '../helpers/run.js';
import { createTempDir, removeTempDir, type AfterHook } from '../helpers/tmp.js';
import { startTestServer } from '../helpers/serverFixture.js';

const START_TIMEOUT_MS = 30_000;

export interface ServerUser {
  name: string;
  password: string;
}

export class ServerProcess {
  proc: ChildProcess | undefined;
  url = '';
  private port = 0;
  private output = '';

  private constructor(readonly root: string, readonly dataDir: string) {}

  /** Create the users, start the server; stopped and its folder removed by `after`. */
  static async start(after: AfterHook, users: ServerUser[]): Promise<ServerProcess> {
    const root = await createTempDir('mosaicfs-srv-');
    const sp = new ServerProcess(root, path.join(root, 'data'));
    after(() => sp.dispose());
    const setup = await startTestServer({ dataDir: sp.dataDir });
    try {
      for (const u of users) await setup.addUser(u.name, u.password);
    } finally {
      await setup.stop({ keepDataDir: true });
    }
    await sp.spawn();
    return sp;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** What the server printed (tail), for failure messages. */
  serverOutput(): string {
    return this.output;
  }

  /** Start (again, on the same port once it has one). */
  async spawn(): Promise<void> {
    if (this.running) throw new Error('server already running');
    const child = spawn(process.execPath, [cliBin(), 'serve', '--data', this.dataDir, '--listen', `127.0.0.1:${this.port}`], {
      env: cliEnv({ MOSAICFS_LOG: process.env.MOSAICFS_LOG ?? 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child);
    this.proc = child;
    this.output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosaicfs serve did not start within ${START_TIMEOUT_MS} ms\n${this.output}`)), START_TIMEOUT_MS);
      const onData = (d: Buffer): void => {
        this.output = (this.output + d.toString()).slice(-64 * 1024);
        const m = /listening on (https?:\/\/\S+)/.exec(this.output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`mosaicfs serve exited (${sig ?? code}) before listening\n${this.output}`));
      });
    });
    this.url = url;
    this.port = Number(new URL(url).port);
  }

  /** SIGKILL: no graceful shutdown, nothing flushed beyond what was acknowledged. */
  async kill9(): Promise<void> {
    const child = this.proc;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM and wait (graceful). */
  async stop(): Promise<void> {
    const child = this.proc;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.stop();
    await removeTempDir(this.root);
  }
}
