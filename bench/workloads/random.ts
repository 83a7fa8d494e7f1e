// 4 KiB random reads / writes at 4 KiB-aligned offsets for a bounded time.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { UniqueData } from './uniqueData.js';
import { nowSec } from './timing.js';

const BLOCK = 4096;

function randomOffset(fileBytes: number): number {
  return Math.floor(Math.random() * Math.floor(fileBytes / BLOCK)) * BLOCK;
}

export function randomRead(file: string, seconds: number): Record<string, number> {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(BLOCK);
  try {
    const size = fstatSync(fd).size;
    let ops = 0;
    const t0 = nowSec();
    let elapsed = 0;
    while (elapsed < seconds) {
      const n = readSync(fd, buf, 0, BLOCK, randomOffset(size));
      if (n !== BLOCK) throw new Error(`short random read: ${n} bytes`);
      ops++;
      if ((ops & 15) === 0) elapsed = nowSec() - t0;
    }
    elapsed = nowSec() - t0;
    return { ops, seconds: elapsed, iops: ops / elapsed };
  } finally {
    closeSync(fd);
  }
}

/** The time includes the final fsync, so buffered writes are paid for. */
export function randomWrite(file: string, seconds: number): Record<string, number> {
  const fd = openSync(file, 'r+');
  const data = new UniqueData(BLOCK);
  try {
    const size = fstatSync(fd).size;
    let ops = 0;
    const t0 = nowSec();
    let elapsed = 0;
    while (elapsed < seconds) {
      const n = writeSync(fd, data.next(), 0, BLOCK, randomOffset(size));
      if (n !== BLOCK) throw new Error(`short random write: ${n} bytes`);
      ops++;
      if ((ops & 15) === 0) elapsed = nowSec() - t0;
    }
    fsyncSync(fd);
    elapsed = nowSec() - t0;
    return { ops, seconds: elapsed, iops: ops / elapsed };
  } finally {
    closeSync(fd);
  }
}
