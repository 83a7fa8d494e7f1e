// The issue-3 comparison of FUSE bindings: the same few-dozen-line passthrough of a local folder,
// once on mosaicfs's own kernel binding and once on fuse-native (bench/passthrough/*).
import path from 'node:path';
import { repoRoot } from '../repoRoot.js';
import { ProcessMountTarget, type MountCommand } from './ProcessMountTarget.js';

export type PassthroughBinding = 'kernel' | 'fuse-native';

const SCRIPT: Record<PassthroughBinding, string> = {
  kernel: 'kernelPassthrough.js',
  'fuse-native': 'fuseNativePassthrough.js',
};

export class PassthroughTarget extends ProcessMountTarget {
  readonly label: string;
  readonly description: string;

  constructor(workRoot: string, private readonly binding: PassthroughBinding) {
    super(workRoot);
    this.label = `passthrough-${binding}`;
    this.description = `passthrough of a local folder written in TS on ${binding === 'kernel' ? "mosaicfs's own FUSE binding" : 'fuse-native (libfuse 2.9 high-level API)'}`;
  }

  protected mountCommand(): MountCommand {
    return {
      cmd: process.execPath,
      args: [path.join(repoRoot, 'dist', 'bench', 'passthrough', SCRIPT[this.binding]), this.backingDir, this.mountPoint],
    };
  }
}
