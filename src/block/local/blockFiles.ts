import * as fs from 'node:fs';

/**
 * The few file operations a block file needs, on the callback API: each is one libuv pool job with
 * no FileHandle object (whose creation, close and error paths cost main-thread time per block).
 */

const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;

export function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

export const openForRead = (file: string): Promise<number> => call((cb) => fs.open(file, READ_FLAGS, cb));
export const closeFd = (fd: number): Promise<void> => call((cb) => fs.close(fd, cb));
export const fstat = (fd: number): Promise<fs.Stats> => call((cb) => fs.fstat(fd, cb));
export const rename = (from: string, to: string): Promise<void> => call((cb) => fs.rename(from, to, cb));
export const unlink = (file: string): Promise<void> => call((cb) => fs.unlink(file, cb));
/** Creates `file` (failing if it exists) holding `data`: open, write and close in one call. */
export const writeNewFile = (file: string, data: Uint8Array): Promise<void> =>
  call((cb) => fs.writeFile(file, data, { flag: 'wx' }, cb));

function readAt(fd: number, out: Buffer, at: number, length: number, position: number): Promise<number> {
  return call((cb) => fs.read(fd, out, at, length, position, cb));
}

/** Reads up to `length` bytes at `position`; fewer at the end of the file. */
export async function readRange(fd: number, position: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await readAt(fd, out, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? out : out.subarray(0, got);
}

/** True for a regular file, false when absent; a symlink is not followed (and is not a file). */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await call<fs.Stats>((cb) => fs.lstat(p, cb))).isFile();
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

export function fsyncPath(p: string, isDir: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(p, isDir ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : fs.constants.O_RDONLY, (err, fd) => {
      if (err) {
        if (err.code === 'ENOENT') resolve(); // deleted since it was written: nothing to make durable
        else reject(err);
        return;
      }
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, (closeErr) => {
          const failed = syncErr ?? closeErr;
          if (failed) reject(failed);
          else resolve();
        });
      });
    });
  });
}
