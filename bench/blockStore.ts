/**
 * Microcost of LocalBlockStore puts: N blocks of SIZE bytes with CONCURRENCY puts in flight (the
 * uploader's default is 4), then one sync(), then N gets; files only vs small blocks in small.db.
 * Reports wall-clock and main-thread CPU (process.cpuUsage) per operation.
 *   node dist/bench/blockStore.js [N=3000] [SIZE=4096] [CONCURRENCY=4]
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SMALL_BLOCK_MAX_BYTES, LocalBlockStore } from '../src/block/local/LocalBlockStore.js';

const N = Number(process.argv[2] ?? 3000);
const SIZE = Number(process.argv[3] ?? 4096);
const CONCURRENCY = Number(process.argv[4] ?? 4);

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface Cost { wallUs: number; cpuUs: number }

async function measure(run: () => Promise<void>): Promise<Cost> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: wall / N, cpuUs: (cpu.user + cpu.system) / N };
}

async function one(label: string, smallBlockMaxBytes: number): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-bench-bs-'));
  try {
    const store = await LocalBlockStore.open(path.join(root, 'blocks'), { smallBlockMaxBytes });
    const blocks = Array.from({ length: N }, () => {
      const data = randomBytes(SIZE);
      return { id: createHash('sha256').update(data).digest('hex'), data };
    });
    const put = await measure(() => pool(blocks, CONCURRENCY, (b) => store.put(b.id, b.data)));
    const t0 = process.hrtime.bigint();
    await store.sync();
    const syncMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const get = await measure(() => pool(blocks, CONCURRENCY, (b) => store.get(b.id)));
    await store.close();
    const f = (c: Cost): string => `${c.wallUs.toFixed(1)} us wall, ${c.cpuUs.toFixed(1)} us cpu`;
    console.log(`${label.padEnd(12)} put: ${f(put)} | sync ${syncMs.toFixed(0)} ms | get: ${f(get)}`);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

console.log(`${N} blocks of ${SIZE} bytes, ${CONCURRENCY} in flight`);
for (let round = 0; round < 2; round++) {
  await one('files', 0);
  await one('small.db', DEFAULT_SMALL_BLOCK_MAX_BYTES);
}
