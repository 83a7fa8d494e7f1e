// A FUSE target served by one foreground process we start (rclone mount, sshfs -f)
// over a backing folder on the local disk.
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { dropCaches, fuseUnmount, isAlive, mountedAt, startDaemon, stopChild, tailFile, waitFor } from '../proc.js';
import type { Target } from './Target.js';

export interface MountCommand {
  cmd: string;
  args: string[];
}

export abstract class ProcessMountTarget implements Target {
  abstract readonly label: string;
  abstract readonly description: string;
  protected tempDir = '';
  protected backingDir = '';
  protected mountPoint = '';
  private child: ChildProcess | undefined;
  private logFile = '';

  constructor(protected readonly workRoot: string) {}

  /** Command that serves backingDir at mountPoint in the foreground. */
  protected abstract mountCommand(): MountCommand;
  /** Extra processes the mount needs (sshd); started once per target. */
  protected async prepare(): Promise<void> {}
  protected async cleanup(): Promise<void> {}

  async start(): Promise<string> {
    this.tempDir = await mkdtemp(path.join(this.workRoot, `${this.label.replace(/\W+/g, '_')}-`));
    this.backingDir = path.join(this.tempDir, 'backing');
    this.mountPoint = path.join(this.tempDir, 'mnt');
    this.logFile = path.join(this.tempDir, 'mount.log');
    await mkdir(this.backingDir);
    await mkdir(this.mountPoint);
    await this.prepare();
    await this.mount();
    return this.mountPoint;
  }

  private async mount(): Promise<void> {
    const { cmd, args } = this.mountCommand();
    const child = startDaemon(cmd, args, this.logFile);
    this.child = child;
    await waitFor(`${this.label} mount`, () => mountedAt(this.mountPoint) !== undefined, 20_000, () =>
      isAlive(child) ? undefined : `${cmd} exited (${child.exitCode ?? child.signalCode}): ${tailFile(this.logFile)}`,
    );
  }

  private async unmount(): Promise<void> {
    if (this.mountPoint) await fuseUnmount(this.mountPoint);
    if (this.child) await stopChild(this.child);
    this.child = undefined;
  }

  async makeCold(): Promise<boolean> {
    await this.unmount();
    await this.mount();
    return dropCaches();
  }

  servingPid(): number | undefined {
    return this.child && isAlive(this.child) ? this.child.pid : undefined;
  }

  async stop(): Promise<void> {
    await this.unmount().catch(() => {});
    await this.cleanup().catch(() => {});
    if (this.tempDir && !mountedAt(this.mountPoint)) await rm(this.tempDir, { recursive: true, force: true }).catch(() => {});
  }
}
