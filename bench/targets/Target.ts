// A file system under test: somewhere to put files, and a way to make its caches cold.

export interface Target {
  /** Name in tables and JSON, e.g. "rclone" or "rclone (writes)". */
  readonly label: string;
  /** Mount options, versions etc., recorded in the results. */
  readonly description: string;
  /** Prepares (mounts) the file system; returns the folder the workloads use. */
  start(): Promise<string>;
  /**
   * Makes the next read cold: remounts FUSE targets (so a daemon's own caches
   * are empty) and drops the kernel page/dentry/inode caches.
   * Returns false if the kernel caches could not be dropped (not root).
   */
  makeCold(): Promise<boolean>;
  /** Pid of the process serving the mount (undefined for a plain folder). */
  servingPid(): number | undefined;
  /** Unmounts and stops every process it started, removes its temp dirs. Never throws. */
  stop(): Promise<void>;
}

/** A target that can be run again with other options for workloads that failed (rclone: --vfs-cache-mode writes). */
export interface WithFallback {
  fallback(): Target;
}

export function hasFallback(t: Target): t is Target & WithFallback {
  return typeof (t as Partial<WithFallback>).fallback === 'function';
}
