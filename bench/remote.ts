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
import { lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '../src/server/admin.js';
import { startServer } from '../src/server/Server.js';
import { repoRoot } from './repoRoot.js';
import { seqRead, seqWrite } from './workloads/sequential.js';
import { smallFiles } from './workloads/smallFiles.js';

const quick = process.argv.includes('--quick');
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
  results.local = await measure('local', local, async () => {
    spawnSync('sh', ['-c', 'sync; echo 2 > /proc/sys/vm/drop_caches']);
  });
  const emb = await mount(vol, 'mnt-embedded');
  results.embedded = await measure('embedded', emb, async () => {
    spawnSync('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']); // dentries/inodes: the next stat is a FUSE lookup
  });
  const rem = await mount(url, 'mnt-remote');
  results.remote = await measure('remote', rem, async () => {
    spawnSync('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']);
    await new Promise((r) => setTimeout(r, 1100)); // the client's 1 s attribute cache expires too
  });

  const keys = Object.keys(results.remote);
  const rows = keys.map((k) => [k, ...['local', 'embedded', 'remote'].map((t) => results[t][k].toFixed(k.endsWith('Us') ? 0 : 3)), (results.remote[k] / results.embedded[k]).toFixed(2)]);
  const head = ['metric', 'local', 'embedded', 'remote', 'remote/embedded'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  process.stdout.write([head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n') + '\n');
  process.stdout.write(JSON.stringify({ quick, seqBytes: SEQ_BYTES, smallFiles: SMALL, results }) + '\n');
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

