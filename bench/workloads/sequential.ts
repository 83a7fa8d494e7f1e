// Sequential write (1 MiB writes, fsync at the end), sequential read, time to first byte.
import { closeSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { UniqueData } from './uniqueData.js';
import { MiB, timed } from './timing.js';

const IO_SIZE = MiB;

export function writeFileSequential(file: string, bytes: number): number {
  const data = new UniqueData(IO_SIZE);
  return timed(() => {
    const fd = openSync(file, 'w');
    try {
      for (let done = 0; done < bytes; done += IO_SIZE) {
        const buf = data.next();
        const len = Math.min(IO_SIZE, bytes - done);
        let off = 0;
        while (off < len) off += writeSync(fd, buf, off, len - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
}

export function seqWrite(file: string, bytes: number): Record<string, number> {
  const seconds = writeFileSequential(file, bytes);
  return { seconds, MiBps: bytes / MiB / seconds };
}

export function seqRead(file: string): Record<string, number> {
  const buf = Buffer.alloc(IO_SIZE);
  let total = 0;
  const seconds = timed(() => {
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, IO_SIZE, null);
        if (n === 0) break;
        total += n;
      }
    } finally {
      closeSync(fd);
    }
  });
  return { seconds, bytes: total, MiBps: total / MiB / seconds };
}

/**
 * Milliseconds from open() until the first 4 KiB read returns data. The parent
 * folder is touched first (untimed): a just-mounted sshfs takes ~1 s to answer
 * its first request, which is mount start-up, not the file's first byte.
 */
export function timeToFirstByte(file: string): Record<string, number> {
  statSync(path.dirname(file));
  const buf = Buffer.alloc(4096);
  let n = 0;
  let fd = -1;
  const seconds = timed(() => {
    fd = openSync(file, 'r');
    n = readSync(fd, buf, 0, buf.length, 0);
  });
  closeSync(fd);
  if (n === 0) throw new Error(`first read of ${file} returned no data`);
  return { ms: seconds * 1000 };
}
