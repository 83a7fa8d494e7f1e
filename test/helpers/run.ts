import { spawn, type SpawnOptions } from 'node:child_process';
import { trackChild } from './cleanup.js';
import { cliBin } from './paths.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** SIGKILL the command after this long (default 60 s); the result then has timedOut = true. */
  timeoutMs?: number;
}

export const TEST_PASSPHRASE = 'correct horse battery staple (mosaicfs tests)';

/** The environment every CLI call gets: the test passphrase, quiet logs, no terminal prompts. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, MOSAICFS_PASSPHRASE: TEST_PASSPHRASE, MOSAICFS_LOG: process.env.MOSAICFS_LOG ?? 'warn', ...extra };
}

/** Runs a program to completion, capturing exit code and output. Never rejects for a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(cmd, args, spawnOpts);
    trackChild(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin!.on('error', () => { /* the command may exit without reading */ });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs `node bin/mosaicfs.js ...args` with cliEnv() unless opts.env is given. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runCommand(process.execPath, [cliBin(), ...args], { ...opts, env: opts.env ?? cliEnv() });
}

/** One line for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  const how = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  return `${what}: ${how}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}
