/**
 * The native helper (native/fusedev, built by scripts/build-native.mjs): everything the kernel
 * binding cannot do from JS. Loaded lazily so that importing the binding costs nothing when unused.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FuseDevNative {
  openDev(): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount(target: string, flags: number): void;
  socketpair(): [number, number];
  recvFd(sock: number): number;
  setNonblock(fd: number): void;
  close(fd: number): void;
  /** Bytes read, or -errno. */
  read(fd: number, buf: Buffer): number;
  /** Bytes written, or -errno. */
  writev(fd: number, bufs: Buffer[]): number;
  poll(fd: number, onReadable: (status: number) => void): PollHandle;
  stopPoll(handle: PollHandle): void;
}

export type PollHandle = { readonly __brand: 'PollHandle' };

let loaded: FuseDevNative | undefined;

export function fusedev(): FuseDevNative {
  if (loaded) return loaded;
  const file = path.join(repoRoot(), 'native', 'fusedev', 'build', 'Release', 'fusedev.node');
  if (!existsSync(file)) throw new Error(`${file} is missing: build it with "node scripts/build-native.mjs"`);
  loaded = createRequire(import.meta.url)(file) as FuseDevNative;
  return loaded;
}

/** The folder holding native/ (works from src/ under tsx and from dist/src/ after tsc). */
function repoRoot(): string {
  for (let d = path.dirname(fileURLToPath(import.meta.url)); d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'native', 'fusedev', 'binding.gyp'))) return d;
  }
  throw new Error('cannot find native/fusedev above the kernel binding');
}
