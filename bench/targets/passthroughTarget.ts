// The issue-3 comparison of FUSE bindings: the same few-dozen-line passthrough of a local folder,
// once on mosaicfs's own kernel binding and once on fuse-native (bench/passthrough/*).
//
// The folder behind both passthroughs is on tmpfs (/dev/shm) by default: on this disk a file
// creation alone varies 10x from minute to minute (ext4 journal shared with other jobs), which
// drowned the bindings' difference in small-file create. On tmpfs what is left is the FUSE round
// trips and the passthrough's own work, i.e. the binding. MOSAICFS_BENCH_PASSTHROUGH_BACKING=disk
// puts it next to the local target's folder instead.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../repoRoot.js';
import { ProcessMountTarget, type MountCommand } from './ProcessMountTarget.js';

export type PassthroughBinding = 'kernel' | 'fuse-native';

const SCRIPT: Record<PassthroughBinding, string> = {
  kernel: 'kernelPassthrough.js',
  'fuse-native': 'fuseNativePassthrough.js',
};

const TMPFS = '/dev/shm';

function backingOnTmpfs(): boolean {
  return process.env.MOSAICFS_BENCH_PASSTHROUGH_BACKING !== 'disk' && existsSync(TMPFS);
}

export class PassthroughTarget extends ProcessMountTarget {
  readonly label: string;
  readonly description: string;
  private readonly onTmpfs = backingOnTmpfs();
  private tmpfsDir = '';

  constructor(workRoot: string, private readonly binding: PassthroughBinding) {
    super(workRoot);
    this.label = `passthrough-${binding}`;
    const on = binding === 'kernel' ? "mosaicfs's own FUSE binding" : 'fuse-native (libfuse 2.9 high-level API)';
    this.description = `passthrough of a local folder (${this.onTmpfs ? 'on tmpfs' : 'on disk'}) written in TS on ${on}; every open direct I/O`;
  }

  protected override async prepare(): Promise<void> {
    if (!this.onTmpfs) return;
    this.tmpfsDir = await mkdtemp(path.join(TMPFS, `mosaicfs-bench-${this.label}-`));
    this.backingDir = this.tmpfsDir;
  }

  protected override async cleanup(): Promise<void> {
    if (this.tmpfsDir) await rm(this.tmpfsDir, { recursive: true, force: true });
    this.tmpfsDir = '';
  }

  protected mountCommand(): MountCommand {
    return {
      cmd: process.execPath,
      args: [path.join(repoRoot, 'dist', 'bench', 'passthrough', SCRIPT[this.binding]), this.backingDir, this.mountPoint],
    };
  }
}
