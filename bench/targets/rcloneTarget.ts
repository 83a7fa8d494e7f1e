// `rclone mount` of a local folder (rclone's local backend), no remote involved.
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { ProcessMountTarget, type MountCommand } from './ProcessMountTarget.js';
import type { Target, WithFallback } from './Target.js';

export type RcloneCacheMode = 'off' | 'writes';

export class RcloneTarget extends ProcessMountTarget implements WithFallback {
  readonly label: string;
  readonly description: string;

  constructor(workRoot: string, private readonly cacheMode: RcloneCacheMode = 'off') {
    super(workRoot);
    this.label = cacheMode === 'off' ? 'rclone' : `rclone (${cacheMode})`;
    this.description = `rclone mount <local folder> --vfs-cache-mode ${cacheMode} (empty --config, private --cache-dir; other flags default)`;
  }

  protected override async prepare(): Promise<void> {
    await writeFile(path.join(this.tempDir, 'rclone.conf'), '');
  }

  protected mountCommand(): MountCommand {
    return {
      cmd: 'rclone',
      args: [
        'mount',
        this.backingDir,
        this.mountPoint,
        '--vfs-cache-mode', this.cacheMode,
        '--config', path.join(this.tempDir, 'rclone.conf'),
        '--cache-dir', path.join(this.tempDir, 'cache'),
        '--log-level', 'NOTICE',
      ],
    };
  }

  /** With --vfs-cache-mode off rclone cannot seek while writing or open read-write: rerun those workloads in writes mode. */
  fallback(): Target {
    return new RcloneTarget(this.workRoot, 'writes');
  }
}
