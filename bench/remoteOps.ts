// Latency of remote metadata calls against the loopback floor, in one run:
//   node dist/bench/remoteOps.js [--iters N] [--only inproc|child] [--json FILE]
// (a) bare node:http keep-alive round trip (the floor), (b) GET /v1/health, (c) RemoteMetaStore
// getattr / lookup / create / readdir(1000) / commitSlices, (d) the same on an embedded
// SqliteMetaStore. The server runs in this process and as a `mosaicfs serve` child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { S_IFDIR, S_IFREG, type MetaStore, type Timespec } from '../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../src/meta/sqlite/SqliteMetaStore.js';
import { HttpClient } from '../src/remote/HttpClient.js';
import { login } from '../src/remote/loginFlow.js';
import { ROUTES } from '../src/remote/protocol.js';
import { RemoteMetaStore } from '../src/remote/RemoteMetaStore.js';
import { createUser } from '../src/server/admin.js';
import { withAdminSession } from '../src/server/adminSession.js';
import { startServer } from '../src/server/Server.js';
import { repoRoot } from './repoRoot.js';

const KDF = { name: 'scrypt' as const, N: 1024, r: 8, p: 1 };
const DIR_ENTRIES = 1000;

interface Row {
  name: string;
  n: number;
  medianMs: number;
  p99Ms: number;
  /** Which floor the ratio is against ('' = none). */
  floor: 'inproc' | 'child' | '';
}

function args(): { iters: number; only?: string; json?: string } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return { iters: Number(get('--iters') ?? 2000), only: get('--only'), json: get('--json') };
}

const ts = (): Timespec => {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
};

/** Sequential calls: n timed after a short warm-up. */
async function measure(name: string, n: number, floor: Row['floor'], fn: (i: number) => Promise<unknown>): Promise<Row> {
  const warm = Math.max(5, Math.floor(n / 10));
  for (let i = 0; i < warm; i++) await fn(n + i);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times[i] = performance.now() - t0;
  }
  times.sort();
  return { name, n, medianMs: times[Math.floor(n / 2)]!, p99Ms: times[Math.min(n - 1, Math.floor(n * 0.99))]!, floor };
}

// ---- the floor: node:http server + node:http keep-alive client ----

const FLOOR_SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => {
  res.setHeader('content-type', 'application/json'); res.end('{"result":null}'); }); });
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('SIGTERM', () => s.close(() => process.exit(0)));
`;

function floorServerInProcess(): Promise<{ port: number; close: () => Promise<void> }> {
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"result":null}');
    });
  });
  s.keepAliveTimeout = 30_000;
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    resolve({ port, close: () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }) });
  }));
}

async function floorRows(port: number, label: string, floor: Row['floor'], n: number): Promise<Row[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = '{"op":"getattr","args":[1]}';
  const nodeHttp = () => new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  const undiciReq = async () => {
    const res = await pool.request({ method: 'POST', path: '/', body, headers: { 'content-type': 'application/json' } });
    await res.body.arrayBuffer();
  };
  try {
    return [
      await measure(`${label} floor: node:http keep-alive`, n, floor, nodeHttp),
      await measure(`${label} floor: undici Pool`, n, '', undiciReq),
    ];
  } finally {
    agent.destroy();
    await pool.close();
  }
}

// ---- MetaStore calls, the same for every engine ----

async function metaRows(label: string, meta: MetaStore, n: number, floor: Row['floor']): Promise<Row[]> {
  const now = ts();
  const node = { mode: S_IFDIR | 0o755, uid: 1000, gid: 1000, now };
  const tag = randomBytes(4).toString('hex');
  const dir = await meta.create(1, `bench-${tag}`, node);
  const big = await meta.create(1, `big-${tag}`, node);
  for (let i = 0; i < DIR_ENTRIES; i++) await meta.create(big.ino, `f${String(i).padStart(5, '0')}`, { ...node, mode: S_IFREG | 0o644 });
  const file = await meta.create(dir.ino, 'target', { ...node, mode: S_IFREG | 0o644 });
  const rows: Row[] = [];
  rows.push(await measure(`${label} getattr`, n, floor, () => meta.getattr(file.ino)));
  rows.push(await measure(`${label} lookup`, n, floor, () => meta.lookup(dir.ino, 'target')));
  let c = 0;
  rows.push(await measure(`${label} create`, Math.min(n, 1000), floor, () => meta.create(dir.ino, `c${c++}`, { ...node, mode: S_IFREG | 0o644, now: ts() })));
  rows.push(await measure(`${label} readdir 1000`, Math.max(20, Math.floor(n / 20)), floor, async () => {
    const page = await meta.readdir(big.ino, null, DIR_ENTRIES);
    if (page.entries.length !== DIR_ENTRIES) throw new Error(`readdir gave ${page.entries.length} entries`);
  }));
  let off = 0;
  rows.push(await measure(`${label} commitSlices`, Math.min(n, 1000), floor, () => {
    const id = randomBytes(32).toString('hex');
    const o = (off++ % 64) * 4096;
    return meta.commitSlices(file.ino, [{ chunk: 0, slices: [{ chunkOff: o, len: 4096, blockId: id, blockOff: 0 }] }], [{ id, size: 4096, storedSize: 4142 }], o + 4096, ts());
  }));
  return rows;
}

// ---- servers ----

interface ServerUnderTest {
  url: string;
  stop(): Promise<void>;
}

async function addUser(dataDir: string, name: string, password: string): Promise<void> {
  await withAdminSession({ dataDir }, ({ backend, spaces }) =>
    createUser(backend.accounts, spaces, { name, password, kdf: KDF, verifierN: KDF.N, uid: 1000, gid: 1000 }));
}

async function inProcessServer(dataDir: string): Promise<ServerUnderTest> {
  const s = await startServer({ dataDir, host: '127.0.0.1', port: 0, gcIntervalMs: 0, logLevel: 'warn' });
  return { url: s.url, stop: () => s.close() };
}

async function childServer(dataDir: string): Promise<ServerUnderTest & { child: ChildProcess }> {
  const bin = path.join(repoRoot, 'bin', 'mosaicfs.js');
  const child = spawn(process.execPath, [bin, 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--gc-interval', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MOSAICFS_LOG: process.env.MOSAICFS_LOG ?? 'warn' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return {
    url,
    child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}

async function floorChild(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return {
    port,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

async function remoteRows(label: string, server: ServerUnderTest, dataDir: string, n: number, floor: Row['floor']): Promise<Row[]> {
  const configDir = path.join(dataDir, 'client-config');
  const session = await login({ url: server.url, user: 'bench', password: 'bench-password', configDir });
  const client = new HttpClient({ url: server.url, token: session.token });
  try {
    const health = await measure(`${label} GET /v1/health`, n, floor, () => client.json('GET', ROUTES.health, undefined, { auth: false }));
    return [health, ...(await metaRows(`${label} remote`, new RemoteMetaStore(client), n, floor))];
  } finally {
    await client.close();
  }
}

function table(rows: Row[]): string {
  const floors = new Map<string, number>();
  for (const r of rows) if (r.name.endsWith('floor: node:http keep-alive')) floors.set(r.floor, r.medianMs);
  const lines = [
    `${'call'.padEnd(48)} ${'n'.padStart(5)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(9)} ${'x floor'.padStart(8)}`,
  ];
  for (const r of rows) {
    const f = r.floor ? floors.get(r.floor) : undefined;
    const ratio = f ? (r.medianMs / f).toFixed(1) : '';
    lines.push(`${r.name.padEnd(48)} ${String(r.n).padStart(5)} ${r.medianMs.toFixed(3).padStart(10)} ${r.p99Ms.toFixed(3).padStart(9)} ${ratio.padStart(8)}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { iters, only, json } = args();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-remoteops-'));
  const rows: Row[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  try {
    process.stderr.write(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} cpus, ${iters} iterations\n`);
    // (d) embedded
    const embedded = SqliteMetaStore.open(path.join(root, 'embedded.db'), { chunkSize: 4 * 1024 * 1024 });
    cleanups.push(() => embedded.close());
    await embedded.init({ mode: S_IFDIR | 0o755, uid: 1000, gid: 1000, now: ts() });
    rows.push(...(await metaRows('embedded', embedded, iters, '')));

    if (only !== 'child') {
      const f = await floorServerInProcess();
      cleanups.push(f.close);
      rows.push(...(await floorRows(f.port, 'inproc', 'inproc', iters)));
      const dataDir = path.join(root, 'inproc');
      await addUser(dataDir, 'bench', 'bench-password');
      const s = await inProcessServer(dataDir);
      cleanups.push(s.stop);
      rows.push(...(await remoteRows('inproc', s, dataDir, iters, 'inproc')));
    }
    if (only !== 'inproc') {
      const f = await floorChild();
      cleanups.push(f.stop);
      rows.push(...(await floorRows(f.port, 'child', 'child', iters)));
      const dataDir = path.join(root, 'child');
      await addUser(dataDir, 'bench', 'bench-password');
      const s = await childServer(dataDir);
      cleanups.push(s.stop);
      rows.push(...(await remoteRows('child', s, dataDir, iters, 'child')));
    }
    process.stdout.write(table(rows) + '\n');
    if (json) await fs.writeFile(json, JSON.stringify({ loadavg: os.loadavg(), iters, rows }, null, 2));
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
