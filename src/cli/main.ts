import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerCat } from './commands/cat.js';
import { registerDf } from './commands/df.js';
import { registerFsck } from './commands/fsck.js';
import { registerGc } from './commands/gc.js';
import { registerGet } from './commands/get.js';
import { registerInit } from './commands/init.js';
import { registerLn } from './commands/ln.js';
import { registerLs } from './commands/ls.js';
import { registerMkdir } from './commands/mkdir.js';
import { registerMv } from './commands/mv.js';
import { registerPut } from './commands/put.js';
import { registerRm } from './commands/rm.js';
import { registerStat } from './commands/stat.js';
import { registerServe } from './commands/serve.js';
import { registerUser } from './commands/user.js';
import { registerLogin } from './commands/login.js';
import { registerNode } from './commands/node.js';
import { registerRepair } from './commands/repair.js';
import { exitCodeOf, reportError } from './exitCodes.js';
import { ranShortLivedVerb } from './verb.js';

/** The version in mosaicfs's package.json, found upwards from this file (src/cli or dist/src/cli). */
function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mosaicfs' && pkg.version) return pkg.version;
    } catch {
      // not here: keep climbing
    }
  }
  return 'unknown';
}

/** Verbs that never touch FUSE: for these the mount commands (and the native FUSE addon) are not loaded. */
const VERBS_WITHOUT_FUSE = new Set(['init', 'put', 'get', 'ls', 'cat', 'stat', 'mkdir', 'mv', 'rm', 'ln', 'df', 'fsck', 'gc',
  'serve', 'user', 'login', 'logout', 'node', 'repair']);

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('mosaicfs')
    .description('mosaicfs: a distributed, encrypted file system you mount as an ordinary folder.\n' +
      'Volume paths are written VOL:/path, where VOL is the volume folder (e.g. ./vol:/docs/a.txt).\n' +
      'Exit codes: 0 success, 1 failure (or problems found), 2 usage error.')
    .version(packageVersion(), '-V, --version')
    // Settings made before the subcommands exist are inherited by them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`mosaicfs: ${text.replace(/^error: /, '')}`) });
  registerInit(program);
  // A missing libfuse (or a FUSE addon being rebuilt) must not break put, get, ls...
  if (!VERBS_WITHOUT_FUSE.has(argv[2])) (await import('./mountCommand.js')).registerMountCommands(program);
  registerPut(program);
  registerGet(program);
  registerLs(program);
  registerCat(program);
  registerStat(program);
  registerMkdir(program);
  registerMv(program);
  registerRm(program);
  registerLn(program);
  registerDf(program);
  registerFsck(program);
  registerGc(program);
  registerServe(program);
  registerUser(program);
  registerLogin(program);
  registerNode(program);
  registerRepair(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await (await buildProgram(process.argv)).parseAsync(process.argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) reportError(err);
    process.exitCode = exitCodeOf(err);
  }
  // Short-lived verbs end here even if a library left a timer behind; mount decides for itself.
  if (ranShortLivedVerb() || process.exitCode) process.exit(process.exitCode ?? 0);
}

await main();
