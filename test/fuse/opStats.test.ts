import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withOpStats } from '../../src/fuse/opStats.js';

type Cb = (err: number, value?: string) => void;

test('withOpStats passes arguments and results through and counts each call', async () => {
  const seen: string[] = [];
  const ops = {
    getattr: (path: string, cb: Cb) => { seen.push(path); cb(0, `attr of ${path}`); },
    unlink: (path: string, cb: Cb) => { seen.push(path); setTimeout(() => cb(-2), 5); },
  };
  const counted = withOpStats(ops);
  const results: Array<[number, string | undefined]> = [];
  counted.ops.getattr('/a', (err, v) => results.push([err, v]));
  counted.ops.getattr('/b', (err, v) => results.push([err, v]));
  await new Promise<void>((resolve) => counted.ops.unlink('/c', (err) => { results.push([err, undefined]); resolve(); }));

  assert.deepEqual(seen, ['/a', '/b', '/c']);
  assert.deepEqual(results, [[0, 'attr of /a'], [0, 'attr of /b'], [-2, undefined]]);
  const lines = counted.report().split('\n').filter((l) => l.startsWith('  '));
  assert.equal(lines.length, 2);
  const [getattr, unlink] = lines.map((l) => l.trim().split(/\s+/));
  assert.equal(getattr[0], 'getattr'); // busiest first
  assert.equal(getattr[1], '2');
  assert.equal(unlink[0], 'unlink');
  assert.equal(unlink[1], '1');
  assert.ok(Number(unlink[3]) >= 4000, `unlink max latency ${unlink[3]} us covers the 5 ms wait`);
});

test('operations never called are left out of the report', () => {
  const counted = withOpStats({ read: (_p: string, cb: Cb) => cb(0) });
  assert.equal(counted.report().split('\n').filter((l) => l.startsWith('  ')).length, 0);
});
