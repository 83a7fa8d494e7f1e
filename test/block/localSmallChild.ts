/**
 * Child process of localSmall.test.ts: opens a LocalBlockStore with small blocks, puts COUNT small
 * blocks (no sync), prints "ready" once every put resolved, and waits to be killed.
 * Usage: DIR COUNT
 */
import { LocalBlockStore } from '../../src/block/local/LocalBlockStore.js';
import { smallBlockOf } from './localSmallBlocks.js';

const [dir, count] = process.argv.slice(2);
const store = await LocalBlockStore.open(dir, { smallBlockMaxBytes: 64 * 1024 });
await Promise.all(Array.from({ length: Number(count) }, (_, i) => {
  const b = smallBlockOf(i);
  return store.put(b.id, b.data);
}));
process.stdout.write('ready\n');
setInterval(() => undefined, 1000);
