// `tar -xf` of the generated source-like tarball into the target.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { timed } from './timing.js';

export function tarExtract(tarball: string, dir: string): Record<string, number> {
  mkdirSync(dir);
  let stderr = '';
  let status: number | null = 0;
  const seconds = timed(() => {
    const r = spawnSync('tar', ['-xf', tarball, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
    status = r.status;
    stderr = r.stderr?.toString() ?? String(r.error);
  });
  if (status !== 0) throw new Error(`tar -xf failed (${status}): ${stderr.slice(0, 500)}`);
  return { seconds };
}
