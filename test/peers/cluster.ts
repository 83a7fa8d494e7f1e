import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild } from '../helpers/cleanup.js';
import { cliBin, repoRoot } from '../helpers/paths.js';
import { runCommand, type RunResult } from '../helpers/run.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/** The CLI: dist/ when the suite runs from dist (npm test), the TypeScript source through tsx otherwise. */
export function cliArgv(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.includes(`${path.sep}dist${path.sep}`)) return [cliBin()];
  return ['--import', 'tsx', path.join(repoRoot(), 'src', 'cli', 'main.ts')];
}

/** Fast membership timings for tests. */
export const FAST = ['--heartbeat', '300ms', '--dead-after', '1500ms'];

export interface RunningNode {
  index: number;
  dataDir: string;
  host: string;
  id: string;
  address: string;
  child: ChildProcess;
  stderr: () => string;
}

/**
 * A test cluster of real `mosaicfs node` processes on loopback (node i on 127.0.0.(10+i), HTTP on a
 * free port), discovery broadcast only to 127.255.255.255 on a random port. stopAll() is
 * registered by the caller with after(); it always runs.
 */
export class TestCluster {
  readonly nodes: (RunningNode | null)[] = [];
  readonly discoveryPort = randomInt(20_000, 60_000);
  readonly secret = randomBytes(24).toString('hex');
  secretFile = '';
  private constructor(readonly root: string) {}

  static async create(): Promise<TestCluster> {
    const c = new TestCluster(await createTempDir('mosaicfs-peers-'));
    c.secretFile = path.join(c.root, 'cluster.secret');
    await fs.writeFile(c.secretFile, c.secret + '\n', { mode: 0o600 });
    return c;
  }

  /** Starts node `index` (again, with the same data folder if it ran before). */
  async start(index: number, extra: string[] = [], opts: { secretFile?: string; host?: string } = {}): Promise<RunningNode> {
    const dataDir = path.join(this.root, `node${index}`);
    const host = opts.host ?? `127.0.0.${10 + index}`;
    const args = [
      ...cliArgv(), 'node', '--data', dataDir, '--listen', `${host}:0`, '--secret-file', opts.secretFile ?? this.secretFile,
      '--discovery-port', String(this.discoveryPort), '--discovery-address', '127.255.255.255', ...FAST, ...extra,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MOSAICFS_LOG: 'warn' } });
    trackChild(child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const ready = await new Promise<{ id: string; address: string }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`node ${index} did not start:\n${err}`)), 20_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const line = out.split('\n').find((l) => l.includes('"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { id: string; address: string });
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`node ${index} exited (${code ?? signal}) before listening:\n${err}`));
      });
    });
    const node: RunningNode = { index, dataDir, host, ...ready, child, stderr: () => err };
    this.nodes[index] = node;
    return node;
  }

  async startMany(n: number, extra: string[] = []): Promise<RunningNode[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => this.start(i, extra)));
  }

  live(): RunningNode[] {
    return this.nodes.filter((n): n is RunningNode => n !== null && n !== undefined);
  }

  /** SIGKILL (a crash) or SIGTERM (graceful); waits for the exit. */
  async stop(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const node = this.nodes[index];
    if (!node) return { code: null, signal: null };
    this.nodes[index] = null;
    return stopChild(node.child, signal);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.live().map((n) => this.stop(n.index, 'SIGKILL')));
    await removeTempDir(this.root);
  }

  /** `mosaicfs repair` against this cluster. */
  repair(args: string[]): Promise<RunResult> {
    return runCommand(process.execPath, [...cliArgv(), 'repair', '--secret-file', this.secretFile, ...args], {
      env: { ...process.env, MOSAICFS_LOG: 'warn' }, timeoutMs: 60_000,
    });
  }
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig });
    });
    child.kill(signal);
  });
}
