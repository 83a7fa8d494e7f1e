// N small files in one directory: create+write, stat, read, delete (files/s each).
import { closeSync, mkdirSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { UniqueData } from './uniqueData.js';
import { timed } from './timing.js';

export function smallFiles(dir: string, count: number, fileBytes: number): Record<string, number> {
  mkdirSync(dir);
  const names = Array.from({ length: count }, (_, i) => path.join(dir, `f${String(i).padStart(5, '0')}.dat`));
  const data = new UniqueData(fileBytes);
  const readBuf = Buffer.alloc(fileBytes + 1);

  const create = timed(() => {
    for (const name of names) {
      const fd = openSync(name, 'wx');
      writeSync(fd, data.next());
      closeSync(fd);
    }
  });
  const stat = timed(() => {
    for (const name of names) {
      if (statSync(name).size !== fileBytes) throw new Error(`${name}: wrong size`);
    }
  });
  const read = timed(() => {
    for (const name of names) {
      const fd = openSync(name, 'r');
      const n = readSync(fd, readBuf, 0, readBuf.length, 0);
      closeSync(fd);
      if (n !== fileBytes) throw new Error(`${name}: read ${n} bytes, expected ${fileBytes}`);
    }
  });
  const remove = timed(() => {
    for (const name of names) unlinkSync(name);
  });
  return {
    createPerSec: count / create,
    statPerSec: count / stat,
    readPerSec: count / read,
    deletePerSec: count / remove,
  };
}
