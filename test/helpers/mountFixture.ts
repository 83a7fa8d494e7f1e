import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild, trackMount, untrackMount } from './cleanup.js';
import { isMounted, waitFor } from './mountinfo.js';
import { cliBin } from './paths.js';
import { isAlive, killQuietly, pidsMentioning } from './processes.js';
import { cliEnv, describeRun, runCli, type RunResult } from './run.js';
import { createTempDir, removeTempDir, type AfterHook } from './tmp.js';

const MOUNT_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 20_000;
const OUTPUT_LIMIT = 256 * 1024;

/** `mosaicfs init dir` with the test passphrase; throws with the CLI's output if it fails. */
export async function initTestVolume(dir: string, extraArgs: string[] = []): Promise<void> {
  const r = await runCli(['init', dir, ...extraArgs]);
  if (r.code !== 0) throw new Error(describeRun(`mosaicfs init ${dir}`, r));
}

/** A server to mount instead of a fresh local volume: the fixture logs in (temp config dir) and mounts the URL. */
export interface RemoteSource {
  url: string;
  user: string;
  password: string;
}

export interface MountFixtureOptions {
  /** node:test after() or t.after: the fixture unmounts, kills and removes everything there. */
  after: AfterHook;
  initArgs?: string[];
  /** Extra arguments for `mosaicfs mount` (e.g. ['-o', 'attr_timeout=0']). */
  mountArgs?: string[];
  /** Mount right away (default true). */
  mount?: boolean;
  /** Mount this server's volume (after `mosaicfs login`) instead of a fresh local volume. */
  remote?: RemoteSource;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

/**
 * A fresh volume in its own temp dir (root/vol), mounted at root/mnt by `mosaicfs mount -f` running
 * as our child process, so the test controls the daemon (pid, SIGKILL, output).
 */
export class MountedVolume {
  proc: ChildProcess | undefined;
  private output = '';
  private disposed = false;

  /** Environment of every CLI call of this fixture (a remote one adds its own MOSAICFS_CONFIG_DIR). */
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly root: string,
    /** The volume folder, or the server URL of a remote mount. */
    readonly vol: string,
    readonly mnt: string,
    private readonly mountArgs: string[],
    extraEnv: NodeJS.ProcessEnv = {},
  ) {
    this.env = cliEnv(extraEnv);
  }

  get isRemote(): boolean {
    return /^https?:\/\//.test(this.vol);
  }

  static async create(opts: MountFixtureOptions): Promise<MountedVolume> {
    if (opts.remote) return MountedVolume.createRemote(opts, opts.remote);
    const root = await createTempDir('mosaicfs-mnt-');
    const fx = new MountedVolume(root, path.join(root, 'vol'), path.join(root, 'mnt'), opts.mountArgs ?? []);
    opts.after(() => fx.dispose());
    await mkdir(fx.mnt);
    await initTestVolume(fx.vol, opts.initArgs);
    if (opts.mount !== false) await fx.mount();
    return fx;
  }

  /** `mosaicfs login URL --user U` (password from MOSAICFS_PASSWORD) into root/config, then mount the URL at root/mnt. */
  private static async createRemote(opts: MountFixtureOptions, remote: RemoteSource): Promise<MountedVolume> {
    const root = await createTempDir('mosaicfs-rmnt-');
    const configDir = path.join(root, 'config');
    const fx = new MountedVolume(root, remote.url, path.join(root, 'mnt'), opts.mountArgs ?? [], { MOSAICFS_CONFIG_DIR: configDir });
    opts.after(() => fx.dispose());
    await mkdir(fx.mnt);
    await fx.login(remote.user, remote.password);
    if (opts.mount !== false) await fx.mount();
    return fx;
  }

  /** `mosaicfs login` of a remote fixture (into its own config dir). */
  async login(user: string, password: string): Promise<void> {
    const r = await runCli(['login', this.vol, '--user', user], { env: { ...this.env, MOSAICFS_PASSWORD: password } });
    if (r.code !== 0) throw new Error(describeRun(`mosaicfs login ${this.vol} --user ${user}`, r));
  }

  /** Run the CLI with this fixture's environment (its config dir for a remote mount). */
  cli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return runCli(args, { env: { ...this.env, ...opts.env }, timeoutMs: opts.timeoutMs });
  }

  get pid(): number {
    if (!this.proc?.pid) throw new Error('not mounted');
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** What the daemon printed (tail), for failure messages. */
  daemonOutput(): string {
    return this.output;
  }

  async mount(extraArgs: string[] = []): Promise<void> {
    if (this.running) throw new Error('already mounted');
    this.output = '';
    const child = spawn(process.execPath, [cliBin(), 'mount', '-f', ...this.mountArgs, ...extraArgs, this.vol, this.mnt], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child);
    trackMount(this.mnt);
    this.proc = child;
    const collect = (d: Buffer): void => {
      this.output = (this.output + d.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const ok = await waitFor(async () => !this.running || (await isMounted(this.mnt)), MOUNT_TIMEOUT_MS);
    if (!this.running || !ok) {
      const why = !ok ? `not mounted after ${MOUNT_TIMEOUT_MS} ms` : `daemon exited (code ${child.exitCode}, signal ${child.signalCode})`;
      await this.forceCleanup();
      throw new Error(`mosaicfs mount -f ${this.vol} ${this.mnt}: ${why}\n--- daemon output ---\n${this.output}`);
    }
  }

  /** `mosaicfs umount mnt`; then the daemon must exit 0 by itself. Throws with details otherwise. */
  async unmount(): Promise<void> {
    const child = this.proc;
    const r = await runCli(['umount', this.mnt], { env: this.env });
    if (r.code !== 0) throw new Error(describeRun(`mosaicfs umount ${this.mnt}`, r) + `\n--- daemon output ---\n${this.output}`);
    if (child && !(await waitExit(child, EXIT_TIMEOUT_MS))) {
      throw new Error(`daemon pid ${child.pid} still running ${EXIT_TIMEOUT_MS} ms after umount\n${this.output}`);
    }
    if (await isMounted(this.mnt)) throw new Error(`${this.mnt} still mounted after umount`);
    untrackMount(this.mnt);
    if (child && child.exitCode !== 0) {
      throw new Error(`daemon exited with code ${child.exitCode} signal ${child.signalCode} on umount\n${this.output}`);
    }
  }

  /** SIGKILL the daemon (a crash), then clean the dead mount. */
  async kill9(): Promise<void> {
    if (!this.running) throw new Error('kill9: daemon not running');
    process.kill(this.pid, 'SIGKILL');
    await this.cleanDeadMount();
  }

  /** After the daemon died: wait for its exit, then `fusermount -u -z` the dead mount. */
  async cleanDeadMount(): Promise<void> {
    const child = this.proc;
    if (child && !(await waitExit(child, EXIT_TIMEOUT_MS))) throw new Error(`daemon pid ${child.pid} did not exit`);
    this.lazyUnmount();
    if (!(await waitFor(async () => !(await isMounted(this.mnt)), 5000))) throw new Error(`${this.mnt} still mounted after the daemon died`);
    untrackMount(this.mnt);
  }

  async remount(extraArgs: string[] = []): Promise<void> {
    if (this.running) await this.unmount();
    await this.mount(extraArgs);
  }

  fsck(args: string[] = []): Promise<RunResult> {
    if (this.isRemote) throw new Error('fsck of a remote mount: check the server side instead');
    return runCli(['fsck', this.vol, ...args], { timeoutMs: 300_000 });
  }

  private lazyUnmount(): void {
    spawnSync('fusermount', ['-u', '-z', this.mnt], { stdio: 'ignore' });
  }

  /** Unmount however possible and kill every process of ours that mentions this volume. */
  private async forceCleanup(): Promise<void> {
    const child = this.proc;
    if (await isMounted(this.mnt)) {
      spawnSync('fusermount', ['-u', this.mnt], { stdio: 'ignore' });
      if (child) await waitExit(child, 10_000);
      if (await isMounted(this.mnt)) this.lazyUnmount();
    }
    untrackMount(this.mnt);
    if (child && this.running) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
    }
    for (const pid of await pidsMentioning(this.root)) killQuietly(pid);
    await waitFor(async () => (await pidsMentioning(this.root)).every((p) => !isAlive(p)), 5000);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.forceCleanup();
    await sleep(0);
    await removeTempDir(this.root);
  }
}
