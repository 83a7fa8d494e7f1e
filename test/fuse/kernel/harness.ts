/**
 * Mounts a real mosaicfs Vfs (SQLite metadata, local blocks, AES-GCM, chunked data: the same
 * parts test/vfs/harness.ts builds) through KernelFuseAdapter in this process. Everything that
 * touches the mount runs in child processes (sh, stat, python3), never with spawn's cwd on the
 * mount (spawn waits for the child's exec, the child's chdir waits for us): a synchronous call on the mount
 * from this thread would wait for itself, and libuv pool threads parked on the mount could starve
 * the block store of its own pool threads.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KernelFuseAdapter } from '../../../src/fuse/KernelFuseAdapter.js';
import { parseMountOptions } from '../../../src/fuse/mountOptions.js';
import type { VfsApi } from '../../../src/vfs/types.js';
import { makeVolume, type PartsOptions, type TempVolume } from '../../vfs/harness.js';

const run = promisify(execFile);

export interface KernelMount {
  mnt: string;
  volume: TempVolume;
  adapter: KernelFuseAdapter;
  /** Sizes of every WRITE request the kernel sent. */
  writes: number[];
  /** Run a shell command (in a child process); resolves with stdout, rejects on a non-zero exit. */
  sh(cmd: string, opts?: RunAs): Promise<string>;
  /** Unmount (if still mounted), close the volume, delete the temp dirs. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Run as another user: uid (gid = uid) and supplementary groups (none unless given). */
export interface RunAs {
  uid?: number;
  groups?: number[];
}

export interface KernelMountOptions {
  /** -o string for parseMountOptions. */
  options?: string;
  /** Wrap the VFS (e.g. to slow down reads). */
  wrap?: (vfs: VfsApi) => VfsApi;
  /** How the volume's parts are built (e.g. write-back close, a fault-injecting block store). */
  volume?: PartsOptions;
}

/**
 * The VFS with some of its methods replaced (to count, slow down or watch calls); every other
 * member is the VFS's own, bound to it. The replacements call on through `vfs` themselves.
 */
export function overrideVfs(vfs: VfsApi, overrides: Partial<VfsApi>): VfsApi {
  return new Proxy(vfs, {
    get(target, prop, receiver) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<PropertyKey, unknown>)[prop];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export async function mountKernel(o: KernelMountOptions = {}): Promise<KernelMount> {
  const volume = await makeVolume(o.volume);
  const base = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-kmnt-'));
  const mnt = path.join(base, 'mnt');
  await mkdir(mnt);
  await chmod(base, 0o755); // other users (setpriv tests) must reach the mount point
  const writes: number[] = [];
  const vfs = o.wrap ? o.wrap(volume.vfs) : volume.vfs;
  const adapter = new KernelFuseAdapter({ vfs, mountpoint: mnt, options: parseMountOptions(o.options ? [o.options] : []), onWrite: (n) => writes.push(n) });
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    try {
      await Promise.race([adapter.unmount(), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      spawnSync('umount', ['-l', mnt]);
    }
    await volume.dispose();
    await rm(base, { recursive: true, force: true });
  };
  try {
    await adapter.mount();
  } catch (err) {
    disposed = true;
    await volume.dispose();
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  const sh = async (cmd: string, opts: RunAs = {}) => {
    // `cd` inside the shell, never spawn's cwd: node's spawn waits for the child's exec, and a
    // child blocked in chdir() on this mount would wait for us in turn.
    const script = `cd "$MNT" && ${cmd}`;
    const groups = opts.groups?.length ? `--groups=${opts.groups.join(',')}` : '--clear-groups';
    const argv = opts.uid === undefined ? ['sh', '-c', script] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, groups, 'sh', '-c', script];
    const { stdout } = await run(argv[0], argv.slice(1), { env: { ...process.env, MNT: mnt }, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  };
  return { mnt, volume, adapter, writes, sh, dispose };
}
