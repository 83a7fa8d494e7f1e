/**
 * Remote mount benchmark (issue 4): a mount of `mosaicfs serve` over loopback vs the embedded
 * mount vs the local folder, same workloads (bench/workloads), plus stat of a cached and of an
 * uncached path (median, µs) and `ls -l` of 10,000 entries. Prints a table and remote/embedded ratios.
 *
 *   node dist/bench/remote.js [--quick]
 *
 * Every server and mount runs as a child process of the CLI (bin/mosaicfs.js); all are stopped and
 * the temp folder removed at the end, even on failure. Runs as root (FUSE here needs it).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '../src/server/admin.js';
import { startServer } from '../src/server/Server.js';
import { repoRoot } from './repoRoot.js';
import { seqRead, seqWrite } from './workloads/sequential.js';
import { smallFiles } from './workloads/smallFiles.js';

const quick = process.argv.includes('--quick');
/** Only the remote mount (A/B runs of client or server changes); the ratio columns are then absent. */
const remoteOnly = process.argv.includes('--remote-only');
const SEQ_BYTES = (quick ? 64 : 512) * 1024 * 1024;
const SMALL = quick ? 500 : 2000;
const LS_ENTRIES = 10_000;
const cli = path.join(repoRoot, 'bin', 'mosaicfs.js');
const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'mosaicfs-rbench-')));
const children: ChildProcess[] = [];
const mounts: string[] = [];
const env = { ...process.env, MOSAICFS_PASSPHRASE: 'bench passphrase', MOSAICFS_CONFIG_DIR: path.join(root, 'config'), MOSAICFS_LOG: 'warn' };

function start(args: string[], waitFor: RegExp | ((out: string) => boolean)): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const check = () => (typeof waitFor === 'function' ? waitFor(out) : waitFor.test(out));
    const timer = setInterval(() => { if (check()) { clearInterval(timer); resolve({ child, out: () => out }); } }, 50);
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => { clearInterval(timer); reject(new Error(`mosaicfs ${args.join(' ')} exited ${code}\n${out}`)); });
  });
}

const isMounted = (mnt: string) => readFileSafe('/proc/self/mountinfo').split('\n').some((l) => l.split(' ')[4] === mnt);
function readFileSafe(f: string): string {
  try { return execFileSync('cat', [f], { encoding: 'utf8' }); } catch { return ''; }
}

async function mount(source: string, name: string): Promise<string> {
  const mnt = path.join(root, name);
  mkdirSync(mnt);
  mounts.push(mnt);
  await start(['mount', '-f', source, mnt], () => isMounted(mnt));
  return mnt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** stat of one path, repeated: the first call may miss, the rest hit the caches (median, µs). */
function statCached(dir: string): number {
  const f = path.join(dir, 'stat-me');
  writeFileSync(f, 'x');
  lstatSync(f);
  const t: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = process.hrtime.bigint();
    lstatSync(f);
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return median(t);
}

/** stat of paths never looked up before by this mount's kernel (each a first lookup; median, µs). */
function statUncached(dir: string, names: string[]): number {
  const t: number[] = [];
  for (const n of names) {
    const s = process.hrtime.bigint();
    lstatSync(path.join(dir, n));
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return median(t);
}

function lsLong(dir: string): number {
  const s = process.hrtime.bigint();
  execFileSync('ls', ['-l', dir], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - s) / 1e9;
}

async function measure(label: string, dir: string, prepareUncached: (names: string[]) => Promise<void>): Promise<Record<string, number>> {
  const r: Record<string, number> = {};
  process.stderr.write(`${label}: sequential write\n`);
  r.seqWriteMiBps = seqWrite(path.join(dir, 'seq'), SEQ_BYTES).MiBps;
  r.seqReadMiBps = seqRead(path.join(dir, 'seq')).MiBps;
  process.stderr.write(`${label}: small files\n`);
  const sf = smallFiles(path.join(dir, 'small'), SMALL, 4096);
  for (const [k, v] of Object.entries(sf)) r[`small.${k}`] = v;
  process.stderr.write(`${label}: stat\n`);
  r.statCachedUs = statCached(dir);
  const big = path.join(dir, 'big');
  mkdirSync(big);
  const names = Array.from({ length: LS_ENTRIES }, (_, i) => `entry-${String(i).padStart(5, '0')}`);
  for (const n of names) writeFileSync(path.join(big, n), '');
  await prepareUncached(names);
  r.statUncachedUs = statUncached(big, names.filter((_, i) => i % 50 === 0));
  process.stderr.write(`${label}: ls -l of ${LS_ENTRIES}\n`);
  r.lsLong10kSeconds = lsLong(big);
  return r;
}

/** Requests per route so far, from the mount's control folder. */
function requestCounts(mnt: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(path.join(mnt, '.mosaicfs', 'stats'), 'utf8').split('\n')) {
    const hit = /^requestsByRoute\.(.+): (\d+)$/.exec(line);
    if (hit) m.set(hit[1]!, Number(hit[2]));
  }
  return m;
}

/**
 * Requests per file of each small-file phase (the same calls as workloads/smallFiles), from the
 * counters of the remote mount: what the small-file figures pay for.
 */
function requestsPerSmallFile(mnt: string, count = 100): Record<string, Record<string, number>> {
  const dir = path.join(mnt, 'counted');
  mkdirSync(dir);
  const names = Array.from({ length: count }, (_, i) => path.join(dir, `c${i}.dat`));
  const buf = Buffer.alloc(4097);
  const phases: Array<[string, (n: string) => void]> = [
    ['create', (n) => { const fd = openSync(n, 'wx'); writeSync(fd, Buffer.alloc(4096, n)); closeSync(fd); }],
    ['stat', (n) => { statSync(n); }],
    ['read', (n) => { const fd = openSync(n, 'r'); readSync(fd, buf, 0, buf.length, 0); closeSync(fd); }],
    ['delete', (n) => unlinkSync(n)],
  ];
  const out: Record<string, Record<string, number>> = {};
  for (const [phase, fn] of phases) {
    const before = requestCounts(mnt);
    for (const n of names) fn(n);
    const after = requestCounts(mnt);
    const per: Record<string, number> = {};
    let total = 0;
    for (const [route, n] of after) {
      const d = n - (before.get(route) ?? 0);
      if (d > 0) { per[route] = Number((d / count).toFixed(2)); total += d; }
    }
    per.total = Number((total / count).toFixed(2));
    out[phase] = per;
  }
  return out;
}

async function main(): Promise<void> {
  // server: users created through the admin code on the data folder, then `mosaicfs serve` as a child
  const data = path.join(root, 'srv');
  const setup = await startServer({ dataDir: data, host: '127.0.0.1', port: 0, gcIntervalMs: 0, logLevel: 'warn' });
  await createUser(setup.backend.accounts, setup.spaces, { name: 'bench', password: 'bench password' });
  await setup.close();
  const srv = await start(['serve', '--data', data, '--listen', '127.0.0.1:0'], /listening on http/);
  const url = /listening on (\S+)/.exec(srv.out())![1];
  const login = spawnSync(process.execPath, [cli, 'login', url, '--user', 'bench'], { env: { ...env, MOSAICFS_PASSWORD: 'bench password' }, encoding: 'utf8' });
  if (login.status !== 0) throw new Error(`login failed: ${login.stderr}`);
  const vol = path.join(root, 'vol');
  const init = spawnSync(process.execPath, [cli, 'init', vol], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
  const local = path.join(root, 'local');
  mkdirSync(local);

  const results: Record<string, Record<string, number>> = {};
  if (!remoteOnly) results.local = await measure('local', local, async () => {
    spawnSync('sh', ['-c', 'sync; echo 2 > /proc/sys/vm/drop_caches']);
  });
  if (!remoteOnly) results.embedded = await measure('embedded', await mount(vol, 'mnt-embedded'), async () => {
    spawnSync('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']); // dentries/inodes: the next stat is a FUSE lookup
  });
  const rem = await mount(url, 'mnt-remote');
  results.remote = await measure('remote', rem, async () => {
    spawnSync('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']);
    await new Promise((r) => setTimeout(r, 1100)); // the client's 1 s attribute cache expires too
  });

  const perFile = requestsPerSmallFile(rem);
  for (const [phase, per] of Object.entries(perFile)) {
    process.stdout.write(`requests per small file, ${phase}: ${Object.entries(per).map(([k, v]) => `${k}=${v}`).join(', ')}\n`);
  }

  const keys = Object.keys(results.remote);
  const fmt = (t: string, k: string) => results[t]?.[k]?.toFixed(k.endsWith('Us') ? 0 : 3) ?? '-';
  const rows = keys.map((k) => [k, ...['local', 'embedded', 'remote'].map((t) => fmt(t, k)), results.embedded ? (results.remote[k] / results.embedded[k]).toFixed(2) : '-']);
  const head = ['metric', 'local', 'embedded', 'remote', 'remote/embedded'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  process.stdout.write([head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n') + '\n');
  process.stdout.write(JSON.stringify({ quick, seqBytes: SEQ_BYTES, smallFiles: SMALL, results, requestsPerSmallFile: perFile }) + '\n');
}

function cleanup(): void {
  for (const m of mounts.reverse()) {
    if (!isMounted(m)) continue;
    spawnSync('fusermount', ['-u', m]);
    if (isMounted(m)) spawnSync('fusermount', ['-u', '-z', m]);
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    process.exit(process.exitCode ?? 0);
  }, 3000);
}

main().then(cleanup, (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
  cleanup();
});

