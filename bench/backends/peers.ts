/**
 * Peer mesh throughput: PeerBlockStore with R=2 over 3 `mosaicfs node` processes against direct
 * authenticated HTTP puts/gets of the same blocks to one node alone (the single-node ceiling).
 * Target: >= 0.5x of a single node. Run: npx tsx bench/backends/peers.ts [blocks] [blockMiB] [parallel]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerBlockStore } from '../../src/block/peers/PeerBlockStore.js';
import { clusterKey } from '../../src/peers/auth.js';
import { peerAgent, PeerClient } from '../../src/peers/PeerClient.js';

const [count, mib, parallel] = [Number(process.argv[2] ?? 32), Number(process.argv[3] ?? 4), Number(process.argv[4] ?? 8)];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function startNode(dir: string, secretFile: string, i: number): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'node', '--data', path.join(dir, `n${i}`),
    '--listen', `127.0.0.${20 + i}:0`, '--secret-file', secretFile, '--no-discovery', '--replicas', '0', '--capacity', '10G'],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MOSAICFS_LOG: 'warn' } });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve((JSON.parse(line) as { address: string }).address);
    });
    child.once('exit', () => reject(new Error('node exited')));
  });
  return { child, address };
}

async function timed(label: string, bytes: number, fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const mbps = bytes / 2 ** 20 / s;
  console.log(`${label.padEnd(34)} ${mbps.toFixed(1).padStart(8)} MiB/s  (${s.toFixed(2)} s)`);
  return mbps;
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await fn(items[next++]); }));
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-bench-peers-'));
const children: ChildProcess[] = [];
try {
  const secret = randomBytes(24).toString('hex');
  const secretFile = path.join(dir, 'secret');
  await fs.writeFile(secretFile, secret);
  const nodes = await Promise.all([0, 1, 2, 3].map((i) => startNode(dir, secretFile, i)));
  children.push(...nodes.map((n) => n.child));
  const blocks = Array.from({ length: count }, () => {
    const data = randomBytes(mib * 2 ** 20);
    return { id: createHash('sha256').update(data).digest('hex'), data };
  });
  const bytes = count * mib * 2 ** 20;
  console.log(`${count} blocks of ${mib} MiB, ${parallel} in parallel`);

  // Baseline: one node alone (node 3), direct HTTP.
  const agent = peerAgent();
  const single = new PeerClient(nodes[3].address, clusterKey(secret), agent);
  const sPut = await timed('single node: put (direct HTTP)', bytes, () => pool(blocks, parallel, (b) => single.put('bench', b.id, b.data)));
  const sGet = await timed('single node: get (direct HTTP)', bytes, () => pool(blocks, parallel, async (b) => { await single.get('bench', b.id); }));

  const store = await PeerBlockStore.open({ type: 'peers', peers: nodes.slice(0, 3).map((n) => n.address), discovery: false, replicas: 2, secretFile },
    { volumeDir: dir, namespace: 'bench' });
  const pPut = await timed('PeerBlockStore R=2 x3: put', bytes, () => pool(blocks, parallel, (b) => store.put(b.id, b.data)));
  const pGet = await timed('PeerBlockStore R=2 x3: get', bytes, () => pool(blocks, parallel, async (b) => { await store.get(b.id); }));
  console.log(`ratio put ${(pPut / sPut).toFixed(2)}x, get ${(pGet / sGet).toFixed(2)}x of a single node (target >= 0.5x)`);
  await store.close();
  await agent.close();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await fs.rm(dir, { recursive: true, force: true });
}
