/**
 * A real `mosaicfs serve` child process on 127.0.0.1 with its own data folder, for mount tests: a
 * separate process like in production (the test process's own thread pool, busy with file calls on
 * the mount, never has to serve the mount's requests too), and one that can be SIGKILLed and
 * restarted on the same port. Users are created before the first start, through the server's own
 * admin code (src/server/admin.ts) on the same data folder.
 *
 * The server is started by a small launcher process that the test forks once, before anything is
 * open on a mount. Why: a fork+exec from the test process itself closes, at exec, the child's
 * copies of every file the test holds open on a mount, and each of those closes is a FUSE FLUSH
 * that waits for the mount daemon to commit the file, which waits for the very server being
 * started (up to its 60 s retry budget per dirty file: a restart that took 2 minutes).
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

type LauncherCommand = { cmd: 'spawn'; file: string; args: string[]; env: NodeJS.ProcessEnv } | { cmd: 'kill'; signal: NodeJS.Signals };
type LauncherEvent =
  | { ev: 'out'; data: string }
  | { ev: 'exit'; code: number | null; signal: string | null };

/** Runs one server at a time for its parent; kills it and exits when the parent goes away. */
const LAUNCHER_SOURCE = `
const { spawn } = require('node:child_process');
let child = null;
process.on('message', (m) => {
  if (m.cmd === 'spawn') {
    const c = spawn(m.file, m.args, { env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const out = (d) => process.connected && process.send({ ev: 'out', data: d.toString('utf8') });
    c.stdout.on('data', out);
    c.stderr.on('data', out);
    c.on('exit', (code, signal) => {
      if (child === c) child = null;
      if (process.connected) process.send({ ev: 'exit', code, signal });
    });
  } else if (m.cmd === 'kill' && child) {
    child.kill(m.signal);
  }
});
process.on('disconnect', () => {
  if (child) child.kill('SIGKILL');
  process.exit(0);
});
`;

export class ServerProcess {
  url = '';
  private port = 0;
  private output = '';
  private alive = false;
  private exited: Promise<void> = Promise.resolve();
  private readonly launcher: ChildProcess;
  private onEvent: ((e: LauncherEvent) => void) | null = null;

  private constructor(readonly root: string, readonly dataDir: string) {
    this.launcher = spawn(process.execPath, ['-e', LAUNCHER_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    trackChild(this.launcher);
    this.launcher.on('message', (m: LauncherEvent) => this.onEvent?.(m));
  }

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
    return this.alive;
  }

  /** What the server printed (tail), for failure messages. */
  serverOutput(): string {
    return this.output;
  }

  /** Start (again, on the same port once it has one). */
  async spawn(): Promise<void> {
    if (this.alive) throw new Error('server already running');
    this.output = '';
    let markExited!: () => void;
    this.exited = new Promise<void>((r) => (markExited = r));
    const url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosaicfs serve did not start within ${START_TIMEOUT_MS} ms\n${this.output}`)), START_TIMEOUT_MS);
      this.onEvent = (e) => {
        if (e.ev === 'out') {
          this.output = (this.output + e.data).slice(-64 * 1024);
          const m = /listening on (https?:\/\/\S+)/.exec(this.output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        } else {
          this.alive = false;
          markExited();
          clearTimeout(timer);
          reject(new Error(`mosaicfs serve exited (${e.signal ?? e.code}) before listening\n${this.output}`));
        }
      };
    });
    this.alive = true;
    this.send({
      cmd: 'spawn',
      file: process.execPath,
      args: [cliBin(), 'serve', '--data', this.dataDir, '--listen', `127.0.0.1:${this.port}`],
      env: cliEnv({ MOSAICFS_LOG: process.env.MOSAICFS_LOG ?? 'warn' }),
    });
    this.url = await url;
    this.port = Number(new URL(this.url).port);
  }

  /** SIGKILL: no graceful shutdown, nothing flushed beyond what was acknowledged. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.send({ cmd: 'kill', signal: 'SIGKILL' });
    await this.exited;
  }

  /** SIGTERM and wait (graceful). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.send({ cmd: 'kill', signal: 'SIGTERM' });
    const timer = setTimeout(() => this.send({ cmd: 'kill', signal: 'SIGKILL' }), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.launcher.exitCode === null && this.launcher.signalCode === null) {
      const gone = new Promise((r) => this.launcher.once('exit', r));
      this.launcher.disconnect();
      await gone;
    }
    await removeTempDir(this.root);
  }

  private send(cmd: LauncherCommand): void {
    if (!this.launcher.connected) throw new Error('server launcher is gone');
    this.launcher.send(cmd);
  }
}
