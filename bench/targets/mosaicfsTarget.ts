// A mosaicfs mount of a fresh volume, driven through the real CLI (bin/mosaicfs.js).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { dropCaches, findPids, fuseUnmount, mountedAt, run, tailFile, waitFor } from '../proc.js';
import { repoRoot } from '../repoRoot.js';
import type { Target } from './Target.js';

const PASSPHRASE = 'mosaicfs-bench-passphrase';

export class MosaicfsTarget implements Target {
  readonly label: string;
  readonly description: string;
  private tempDir = '';
  private volumeDir = '';
  private mountPoint = '';
  private pid: number | undefined;
  private readonly bin = path.join(repoRoot, 'bin', 'mosaicfs.js');
  private readonly env = { ...process.env, MOSAICFS_PASSPHRASE: PASSPHRASE };

  /** binding: which FUSE binding serves the mount (`-o binding=...`); the default target uses the default (kernel). */
  constructor(private readonly workRoot: string, private readonly binding?: 'fuse-native') {
    this.label = binding ? `mosaicfs-${binding}` : 'mosaicfs';
    this.description = binding
      ? `mosaicfs init + mount -o binding=${binding} of a fresh volume on the local disk`
      : 'mosaicfs init + mount (background daemon, our own FUSE binding) of a fresh volume on the local disk, default options';
  }

  /** Why mosaicfs cannot be measured yet, or undefined if its CLI is built. */
  static unavailableReason(): string | undefined {
    const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    return existsSync(main) ? undefined : `${path.relative(repoRoot, main)} not built (npm run build)`;
  }

  private cli(args: string[], timeoutMs = 60_000): Promise<string> {
    return run(process.execPath, [this.bin, ...args], { env: this.env, timeoutMs, cwd: this.tempDir });
  }

  async start(): Promise<string> {
    const why = MosaicfsTarget.unavailableReason();
    if (why) throw new Error(why);
    this.tempDir = await mkdtemp(path.join(this.workRoot, 'mosaicfs-'));
    this.volumeDir = path.join(this.tempDir, 'vol');
    this.mountPoint = path.join(this.tempDir, 'mnt');
    await mkdir(this.mountPoint);
    await this.cli(['init', this.volumeDir]);
    await this.mount();
    return this.mountPoint;
  }

  private async mount(): Promise<void> {
    try {
      await this.cli(['mount', ...(this.binding ? ['-o', `binding=${this.binding}`] : []), this.volumeDir, this.mountPoint]);
      await waitFor('mosaicfs mount', () => mountedAt(this.mountPoint) !== undefined, 20_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nmount.log: ${tailFile(path.join(this.volumeDir, 'mount.log'), 800)}`);
    }
    // The background daemon re-executes the CLI as `mount VOL MNT --foreground`, detached: find it by that.
    const pids = findPids([this.mountPoint, 'mount', '--foreground']);
    this.pid = pids.length > 0 ? Math.min(...pids) : undefined;
  }

  private async unmount(): Promise<void> {
    if (!this.mountPoint || !mountedAt(this.mountPoint)) return;
    try {
      await this.cli(['umount', this.mountPoint], 60_000);
      await waitFor('mosaicfs umount', () => mountedAt(this.mountPoint) === undefined, 30_000);
    } catch {
      await fuseUnmount(this.mountPoint);
    }
    await this.waitDaemonExit();
  }

  private async waitDaemonExit(): Promise<void> {
    const pid = this.pid;
    this.pid = undefined;
    if (pid === undefined) return;
    const alive = () => existsSync(`/proc/${pid}`);
    await waitFor('mosaicfs daemon exit', () => !alive(), 15_000).catch(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }

  async makeCold(): Promise<boolean> {
    await this.unmount();
    await this.mount();
    return dropCaches();
  }

  servingPid(): number | undefined {
    return this.pid;
  }

  async stop(): Promise<void> {
    await this.unmount().catch(() => {});
    if (this.tempDir && !mountedAt(this.mountPoint)) await rm(this.tempDir, { recursive: true, force: true }).catch(() => {});
  }
}
