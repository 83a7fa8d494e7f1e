import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs a sibling script of this folder (e.g. 'lockHolder') in a child node process, both under tsx
 * (the .ts file, with tsx's loader flags) and in the compiled dist/ tree (the .js file).
 */
export function spawnScript(name: string, args: string[]): ChildProcessWithoutNullStreams {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const script = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
  return spawn(process.execPath, [...execArgv, script, ...args], { stdio: 'pipe' });
}

/** Resolves with the first line the child writes to stdout. */
export function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const onData = (d: Buffer): void => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        child.stdout.off('data', onData);
        resolve(out.slice(0, nl));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      if (!out.includes('\n')) reject(new Error(`child exited (${code}) before writing a line: ${err}`));
    });
  });
}

export function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
