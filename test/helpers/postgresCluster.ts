import { execFile, spawnSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PostgresCluster {
  /** Connection URL for the `postgres` superuser over the cluster's unix socket. */
  url: string;
  socketDir: string;
  /** Connection URL of another database of this cluster. */
  urlOf(database: string): string;
  stop(): Promise<void>;
}

const PG_ROOT = '/usr/lib/postgresql';

/** The bin folder of the highest PostgreSQL version installed from Debian's packages. */
export function postgresBinDir(): string {
  if (!existsSync(PG_ROOT)) {
    throw new Error(`PostgreSQL is not installed (${PG_ROOT} missing): apt-get install postgresql`);
  }
  const versions = (spawnSync('ls', [PG_ROOT], { encoding: 'utf8' }).stdout ?? '')
    .split('\n').filter((v) => /^\d+$/.test(v) && existsSync(path.join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${PG_ROOT}`);
  return path.join(PG_ROOT, versions[0], 'bin');
}

/** Run a PostgreSQL tool as the `postgres` system user (initdb and postgres refuse to run as root). */
function asPostgres(bin: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  if (process.getuid?.() === 0) return run('runuser', ['-u', 'postgres', '--', bin, ...args], { cwd });
  return run(bin, args, { cwd });
}

const live = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => { for (const stopNow of live) stopNow(); });
}

/**
 * A throwaway PostgreSQL cluster in a fresh temp folder, listening only on a unix socket in that
 * folder, tuned for speed over durability (fsync off). Call stop() in an after() hook; a process
 * exit also stops it (synchronously) as a last resort.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const root = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  const logFile = path.join(root, 'postgres.log');
  const asRoot = process.getuid?.() === 0;
  let started = false;
  const stopSync = () => {
    if (started) {
      const args = ['-D', dataDir, '-m', 'immediate', '-w', 'stop'];
      if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args], { stdio: 'ignore', cwd: root });
      else spawnSync(path.join(bin, 'pg_ctl'), args, { stdio: 'ignore', cwd: root });
      started = false;
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await mkdir(socketDir);
    await writeFile(logFile, '');
    if (asRoot) {
      const { uid, gid } = postgresIds();
      for (const p of [root, socketDir, logFile]) await chown(p, uid, gid);
    }
    await asPostgres(path.join(bin, 'initdb'), [
      '-D', dataDir, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync',
    ], root);
    const opts = [
      `-c listen_addresses=''`, `-k ${socketDir}`, '-c fsync=off', '-c synchronous_commit=off',
      '-c full_page_writes=off', '-c max_connections=200', '-c shared_buffers=32MB',
    ].join(' ');
    started = true;
    live.add(stopSync);
    installExitHook();
    await asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', opts, 'start'], root);
  } catch (err) {
    const logText = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    live.delete(stopSync);
    stopSync();
    throw new Error(`could not start PostgreSQL: ${(err as Error).message}\n${logText}`);
  }
  const urlOf = (database: string) =>
    `postgresql://postgres@localhost/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}`;
  return {
    url: urlOf('postgres'),
    socketDir,
    urlOf,
    async stop() {
      live.delete(stopSync);
      stopSync();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres system user (the postgresql package creates it)');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Unused-name helper for per-test databases and schemas. */
let counter = 0;
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}`;
}
