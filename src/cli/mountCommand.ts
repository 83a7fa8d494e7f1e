/**
 * `mosaicfs mount SOURCE MOUNTPOINT` and `mosaicfs umount MOUNTPOINT`.
 * Background by default: checks run in the foreground process (clear errors, non-zero exit), then
 * a detached daemon mounts and this process exits 0 once it reports "mounted" (see daemonSpawn.ts).
 */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { MountOptionError, parseMountOptions, type MountOptions } from '../fuse/mountOptions.js';
import { log } from '../util/log.js';
import { readConfig } from '../volume/config.js';
import { resolveSecret } from '../volume/secret.js';
import { loadSession } from '../remote/credentials.js';
import { canonicalMountpoint, checkMountpoint, MountError, serverSource } from './daemonChecks.js';
import { runtimeDir } from './daemonRegistry.js';
import { notLoggedInMessage, startDaemon } from './daemonRun.js';
import { isDaemonChild, receiveSecret, reportToParent, spawnDaemon } from './daemonSpawn.js';
import { umount } from './daemonUmount.js';
import { describeError, UsageError } from './errors.js';
import { addSecretOptions, secretOptionsOf } from './secretOptions.js';
import { verb } from './verb.js';

interface MountCliOptions {
  foreground?: boolean;
  mountOptions: string[];
  passphraseFile?: string;
  keyFile?: string;
  logFile?: string;
  cacheDir?: string;
  user?: string;
}

const MOUNT_OPTIONS_HELP =
  'mount options, comma-separated (repeatable): allow_other, ro, default_permissions / no_default_permissions (default: on, except for a mount by root without allow_other), ' +
  'attr_timeout=S (1), entry_timeout=S (1), negative_timeout=S (0), kernel_cache, auto_cache (default) / no_auto_cache, ' +
  'nonempty, fsname=NAME, cache_size=SIZE (64M), write_buffer=SIZE (64M), disk_cache_size=SIZE (0 = off)';

export function registerMountCommands(program: Command): void {
  addSecretOptions(
    program
      .command('mount')
      .description('mount the volume SOURCE (a volume folder, or a server URL after `mosaicfs login`) on the folder MOUNTPOINT (runs in the background unless -f)')
      .argument('<source>', 'volume folder, or server URL http(s)://host:port')
      .argument('<mountpoint>', 'empty folder to mount on')
      .option('-f, --foreground', 'stay in the foreground; Ctrl-C or SIGTERM unmounts')
      .option('-o, --mount-options <list>', MOUNT_OPTIONS_HELP, (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--user <name>', 'server mounts: which saved login to use when several users are logged in to the server')
      .option('--log-file <file>', 'daemon log in background mode (default: SOURCE/mount.log; for a server, in the runtime folder)')
      .option('--cache-dir <dir>', 'base folder of the disk block cache (default ~/.cache/mosaicfs; turns the disk cache on)'),
  ).action(async (source: string, mnt: string, opts: MountCliOptions) => {
    if (isDaemonChild()) return runAsDaemonChild(source, mnt, opts);
    const server = serverSource(source);
    if (server) return mountServer(server, mnt, opts);
    const options = parseOptions(opts.mountOptions);
    const volumeDir = path.resolve(source);
    const mountpoint = await canonicalMountpoint(mnt);
    const cacheDir = opts.cacheDir ? path.resolve(opts.cacheDir) : undefined;
    if (!opts.foreground) {
      await verb(async () => {
        await readConfig(volumeDir);
        await checkMountpoint(mountpoint, options.nonempty);
        const secret = await resolveSecret(secretOptionsOf(opts));
        const logFile = path.resolve(opts.logFile ?? path.join(volumeDir, 'mount.log'));
        await spawnDaemon({ volumeDir, mountpoint, options, secret, logFile, cacheDir });
      })();
      return;
    }
    const secret = await resolveSecret(secretOptionsOf(opts));
    await startDaemon({ volumeDir, mountpoint, options, secret, cacheDir });
  });

  program
    .command('umount')
    .alias('unmount')
    .description('unmount MOUNTPOINT and wait until its daemon has written everything and exited')
    .argument('<mountpoint>', 'where the volume is mounted')
    .option('-z, --lazy', 'detach now even if busy (the daemon exits; open files then fail)')
    .option('--timeout <seconds>', 'how long to wait for the daemon to finish flushing', '300')
    .action(verb(async (mnt: string, opts: { lazy?: boolean; timeout: string }) => {
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout needs a positive number of seconds, got "${opts.timeout}"`);
      await umount(mnt, { lazy: opts.lazy, timeoutMs: seconds * 1000 });
    }));
}

function parseOptions(list: string[]): MountOptions {
  try {
    return parseMountOptions(list);
  } catch (err) {
    if (err instanceof MountOptionError) throw new UsageError(err.message);
    throw err;
  }
}

/** `mosaicfs mount URL MNT`: no secret to ask for (the saved login session holds the token and key). */
async function mountServer(url: string, mnt: string, opts: MountCliOptions): Promise<void> {
  const options = parseOptions(opts.mountOptions);
  const mountpoint = await canonicalMountpoint(mnt);
  const cacheDir = opts.cacheDir ? path.resolve(opts.cacheDir) : undefined;
  const params = { volumeDir: url, mountpoint, options, secret: null, user: opts.user, cacheDir };
  if (opts.foreground) {
    await loadSession(url, opts.user).catch((err: unknown) => { throw new MountError(notLoggedInMessage(url, err)); });
    await startDaemon(params);
    return;
  }
  await verb(async () => {
    await loadSession(url, opts.user).catch((err: unknown) => { throw new MountError(notLoggedInMessage(url, err)); });
    await checkMountpoint(mountpoint, options.nonempty);
    const logFile = path.resolve(opts.logFile ?? (await serverLogFile(mountpoint)));
    await spawnDaemon({ ...params, logFile });
  })();
}

/** A server mount's default log: <runtime folder>/mount-<hash of the mount point>.log. */
async function serverLogFile(mountpoint: string): Promise<string> {
  await fs.mkdir(runtimeDir(), { recursive: true, mode: 0o700 });
  return path.join(runtimeDir(), `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 24)}.log`);
}

/** The re-executed background daemon: its errors go to the parent (and the log), not to a terminal. */
async function runAsDaemonChild(source: string, mnt: string, opts: MountCliOptions): Promise<void> {
  try {
    const secret = await receiveSecret();
    const server = serverSource(source);
    const params = {
      volumeDir: server ?? path.resolve(source),
      user: opts.user,
      mountpoint: await canonicalMountpoint(mnt),
      options: parseMountOptions(opts.mountOptions),
      secret,
      cacheDir: opts.cacheDir ? path.resolve(opts.cacheDir) : undefined,
    };
    process.chdir('/'); // a daemon must not keep its starter's folder busy
    await startDaemon(params);
  } catch (err) {
    log.error({ err }, 'mount failed');
    await reportToParent({ type: 'error', message: describeError(err) });
    process.exit(1);
  }
  await reportToParent({ type: 'mounted' });
}
