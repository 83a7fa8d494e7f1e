/**
 * Background mounting: the parent re-executes this CLI with --foreground as a detached child
 * (stdin ignored, stdout/stderr appended to the log file) and talks to it over an IPC channel:
 * parent -> child: the already-resolved secret (never on the command line or in the environment);
 * child -> parent: "mounted", or the error message. The parent then disconnects and exits.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { MountOptions } from '../fuse/mountOptions.js';
import { formatMountOptions } from '../fuse/mountOptions.js';
import { PASSPHRASE_ENV, type VolumeSecret } from '../volume/secret.js';
import { MountError } from './daemonChecks.js';

/** Set in the child's environment so it knows to read the secret from IPC. Deleted once read. */
export const DAEMON_CHILD_ENV = 'MOSAICFS_MOUNT_CHILD';

export type ParentMessage = { type: 'secret'; secret: VolumeSecret | null };
export type ChildMessage = { type: 'mounted' } | { type: 'error'; message: string };

const READY_TIMEOUT_MS = 120_000;

export interface SpawnParams {
  volumeDir: string;
  mountpoint: string;
  options: MountOptions;
  /** null for a server mount (the daemon reads the saved login session itself). */
  secret: VolumeSecret | null;
  logFile: string;
  cacheDir?: string;
  /** Server mounts: which saved login. */
  user?: string;
}

/** Start the daemon; resolves once it reports "mounted", rejects with its error message otherwise. */
export async function spawnDaemon(p: SpawnParams): Promise<void> {
  let logFd: number;
  try {
    logFd = fs.openSync(p.logFile, 'a', 0o600);
  } catch (err) {
    throw new MountError(`cannot open log file ${p.logFile}: ${(err as Error).message}`);
  }
  const args = [
    ...process.execArgv, process.argv[1], 'mount', p.volumeDir, p.mountpoint, '--foreground',
    '-o', formatMountOptions(p.options), '--log-file', p.logFile,
    ...(p.cacheDir ? ['--cache-dir', p.cacheDir] : []),
    ...(p.user ? ['--user', p.user] : []),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, [DAEMON_CHILD_ENV]: '1' };
  delete env[PASSPHRASE_ENV];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd, 'ipc'], env });
  fs.closeSync(logFd);

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        reject(new MountError(`the mount daemon did not report within ${READY_TIMEOUT_MS / 1000} s; see ${p.logFile}`));
      }, READY_TIMEOUT_MS);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('message');
        if (err) reject(err);
        else resolve();
      };
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'mounted') finish();
        else if (m.type === 'error') finish(new MountError(m.message));
      });
      child.on('exit', (code, signal) => {
        finish(new MountError(`the mount daemon exited (${signal ?? `code ${code}`}) before mounting; see ${p.logFile}`));
      });
      child.on('error', (err) => finish(new MountError(`cannot start the mount daemon: ${err.message}`)));
      child.send({ type: 'secret', secret: p.secret } satisfies ParentMessage);
    });
  } finally {
    if (child.connected) child.disconnect();
    child.unref();
  }
}

/** In the child: is this process a daemon started by spawnDaemon? */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_CHILD_ENV] === '1' && typeof process.send === 'function';
}

/** In the child: receive the secret from the parent. */
export function receiveSecret(): Promise<VolumeSecret | null> {
  delete process.env[DAEMON_CHILD_ENV];
  return new Promise((resolve, reject) => {
    const onMessage = (m: ParentMessage) => {
      if (m?.type !== 'secret') return;
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(m.secret);
    };
    const onDisconnect = () => reject(new MountError('the parent process went away before sending the secret'));
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  });
}

/** In the child: tell the parent how mounting went, then cut the channel so the parent can exit. */
export function reportToParent(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, {}, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}
