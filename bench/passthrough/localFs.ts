/**
 * Shared by the two passthrough file systems: local stat -> InodeAttr, errors -> errno, and the
 * foreground main (SRC MNT arguments, SIGTERM/SIGINT unmount).
 *
 * The two passthroughs do the same work per request, so that the bindings are what differ:
 * - synchronous fs calls on the JS thread (no libuv thread-pool round trip), the same syscalls:
 *   one lstat per lookup/getattr and after each create/mkdir/etc., open/close per open/release;
 * - every open is direct I/O (FOPEN_DIRECT_IO / libfuse's direct_io), so reads and writes reach
 *   the file system instead of the kernel page cache (without it, 4 KiB random reads measured the
 *   page cache: both ~350k IOPS);
 * - directory listings are names only (unknown d_ino and d_type, as libfuse 2 reports names without
 *   stats), read once per opendir and served from memory for every READDIR of that handle.
 */
import { lstatSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toErrno } from '../../src/errors.js';
import type { InodeAttr } from '../../src/vfs/types.js';

const NS = 1_000_000_000n;

export function toAttr(s: BigIntStats, ino = Number(s.ino)): InodeAttr {
  const t = (ns: bigint) => ({ sec: Number(ns / NS), nsec: Number(ns % NS) });
  return {
    ino, mode: Number(s.mode), uid: Number(s.uid), gid: Number(s.gid), size: Number(s.size), nlink: Number(s.nlink),
    rdev: Number(s.rdev), allocated: Number(s.blocks) * 512,
    atime: t(s.atimeNs), mtime: t(s.mtimeNs), ctime: t(s.ctimeNs), crtime: t(s.birthtimeNs),
  };
}

export function lstatAttr(p: string): BigIntStats {
  return lstatSync(p, { bigint: true });
}

/**
 * lstat without an exception for a missing name: every new file starts with a negative lookup, and
 * node's ENOENT error (message, stack) costs more than the statx itself.
 */
export function lstatIfExists(p: string): BigIntStats | undefined {
  return lstatSync(p, { bigint: true, throwIfNoEntry: false });
}

/** d_ino a directory entry carries when the file system does not say (libfuse's FUSE_UNKNOWN_INO). */
export const UNKNOWN_INO = 0xffffffff;

/** Negative errno, as fuse-native callbacks want it. */
export function negErrno(err: unknown): number {
  return -toErrno(err);
}

export interface Mountable {
  mount(): Promise<void>;
  unmount(): Promise<void>;
  /** Resolves when the mount is gone (also after an external fusermount -u, where the binding can tell). */
  readonly gone: Promise<void>;
}

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

/** `node <script> SRC MNT`: mount in the foreground until SIGTERM/SIGINT or an external unmount. */
export async function runForeground(name: string, make: (src: string, mnt: string) => Mountable): Promise<void> {
  const [src, mnt] = process.argv.slice(2);
  if (!src || !mnt) {
    console.error(`usage: node ${name} SRC MNT`);
    process.exit(2);
  }
  const fsys = make(path.resolve(src), path.resolve(mnt));
  await fsys.mount();
  console.error(`${name}: ${src} mounted on ${mnt}`);
  const stop = () => {
    fsys.unmount().then(() => process.exit(0), (err) => {
      console.error(`${name}: unmount failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await fsys.gone;
  process.exit(0);
}
