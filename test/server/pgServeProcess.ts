/**
 * Real `mosaicfs serve --meta postgres://...` child processes for the PostgreSQL server suites
 * (postgresServe, scaleOut): users added with the real `mosaicfs user add --meta`, and an fsck-like
 * check of a user's namespace straight in the database and the block folder.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { openBlockStore } from '../../src/block/openBlockStore.js';
import { PostgresMetaStore } from '../../src/meta/postgres/PostgresMetaStore.js';
import { DEFAULT_STORE } from '../../src/server/Server.js';
import { openPostgresBackend, userSchema } from '../../src/server/postgres/index.js';
import { trackChild } from '../helpers/cleanup.js';
import { cliBin } from '../helpers/paths.js';
import { cliEnv, describeRun, runCli } from '../helpers/run.js';

const START_TIMEOUT_MS = 30_000;

/** One `mosaicfs serve --meta URL --data DIR` process on 127.0.0.1; restartable on the same port. */
export class PgServeProcess {
  url = '';
  private proc: ChildProcess | undefined;
  private port = 0;
  private output = '';

  constructor(readonly metaUrl: string, readonly dataDir: string) {}

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The tail of what the server printed, for failure messages. */
  serverOutput(): string {
    return this.output;
  }

  /** Start (again on the same port once it has one); resolves with the URL it prints. */
  async spawn(): Promise<string> {
    if (this.running) throw new Error('server already running');
    const child = spawn(process.execPath, [
      cliBin(), 'serve', '--meta', this.metaUrl, '--data', this.dataDir, '--listen', `127.0.0.1:${this.port}`, '--gc-interval', '0',
    ], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    this.proc = child;
    this.output = '';
    this.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosaicfs serve did not start within ${START_TIMEOUT_MS} ms\n${this.output}`)), START_TIMEOUT_MS);
      const onData = (d: Buffer): void => {
        this.output = (this.output + d.toString()).slice(-64 * 1024);
        const m = /listening on (https?:\/\/\S+)/.exec(this.output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`mosaicfs serve exited (${sig ?? code}) before listening\n${this.output}`));
      });
    });
    this.port = Number(new URL(this.url).port);
    return this.url;
  }

  /** SIGKILL and wait for the exit: nothing graceful. */
  async kill9(): Promise<void> {
    const child = this.proc;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (graceful), SIGKILL after 15 s; resolves with the exit code (null when killed). */
  async stop(): Promise<number | null> {
    const child = this.proc;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** `mosaicfs user add NAME --meta URL --data DIR` with a low test KDF cost. */
export async function addUserWithCli(metaUrl: string, dataDir: string, name: string, password: string, blockSize = '1M'): Promise<void> {
  const r = await runCli(['user', 'add', name, '--meta', metaUrl, '--data', dataDir, '--block-size', blockSize],
    { env: cliEnv({ MOSAICFS_KDF_N: '1024', MOSAICFS_PASSWORD: password }) });
  assert.equal(r.code, 0, describeRun(`user add ${name}`, r));
}

/**
 * fsck-like check of a user's namespace, independent of any server: the PostgreSQL store's own
 * consistency check (tree, closure, nlink, slices, block refs), and every block the metadata
 * references present in the shared block folder. Returns the problems (empty when clean).
 */
export async function checkUserNamespace(metaUrl: string, dataDir: string, userName: string): Promise<string[]> {
  const backend = await openPostgresBackend(metaUrl, { poolSize: 2 });
  try {
    const user = await backend.accounts.getUserByName(userName);
    assert.ok(user, `user ${userName} exists`);
    const meta = await PostgresMetaStore.connect(metaUrl, userSchema(user.id), user.blockSize);
    const blocks = await openBlockStore(DEFAULT_STORE, { volumeDir: dataDir, namespace: user.id });
    try {
      const problems = await meta.check();
      let cursor: string | null = null;
      do {
        const page = await meta.listBlocks(cursor, 1000);
        for (const b of page.blocks) {
          if (b.refs > 0 && !(await blocks.has(b.id))) problems.push(`block ${b.id} (refs ${b.refs}) missing from the block store`);
        }
        cursor = page.next;
      } while (cursor !== null);
      return problems;
    } finally {
      await blocks.close();
      await meta.close();
    }
  } finally {
    await backend.close();
  }
}
