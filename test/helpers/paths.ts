import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file holding mosaicfs's package.json (works from test/ and dist/test/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mosaicfs') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the mosaicfs repository root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** bin/mosaicfs.js, which runs dist/src/cli/main.js (so `npm run build` must have run). */
export function cliBin(): string {
  return path.join(repoRoot(), 'bin', 'mosaicfs.js');
}
