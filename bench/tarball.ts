// Generates the same source-tree-like tarball every time (seeded PRNG, fixed
// mtimes/owners, sorted entries): 3,500 entries, mostly small text files.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { seededRandom } from '../src/util/prng.js';
import { run } from './proc.js';

export const TARBALL_ENTRIES = 3500;
const DIRS = 280;
const SEED = 0x6d6f7361; // "mosa"

/** Log-uniform size in [lo, hi). */
function sizeBetween(rand: () => number, lo: number, hi: number): number {
  return Math.floor(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

/** Source-like file sizes: 60% < 4 KiB, 34% < 32 KiB, 5.5% < 256 KiB, 0.5% up to 2 MiB. */
function fileSize(rand: () => number): number {
  const r = rand();
  if (r < 0.6) return sizeBetween(rand, 200, 4096);
  if (r < 0.94) return sizeBetween(rand, 4096, 32768);
  if (r < 0.995) return sizeBetween(rand, 32768, 262144);
  return sizeBetween(rand, 262144, 2097152);
}

const WORDS = ['const', 'return', 'function', 'import', 'export', 'inode', 'block', 'cache', 'value', 'await', 'if', 'else', '{', '}', '(', ')', ';', '=', 'mosaic', 'buffer', 'length', 'offset'];

function textContent(rand: () => number, size: number): Buffer {
  const parts: string[] = [];
  let len = 0;
  while (len < size) {
    const w = rand() < 0.08 ? '\n' : WORDS[Math.floor(rand() * WORDS.length)] + ' ';
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}

export interface Tarball {
  file: string;
  entries: number;
  bytes: number;
}

/** Writes <dir>/tree.tar (building the tree in <dir>/tree first, then removing it). */
export async function makeTarball(dir: string): Promise<Tarball> {
  const rand = seededRandom(SEED);
  const root = path.join(dir, 'tree');
  const top = 'project';
  const dirs = [top];
  await mkdir(path.join(root, top), { recursive: true });
  for (let i = 1; i < DIRS; i++) {
    // Parents are biased towards recent dirs so the tree gets some depth (up to ~6 levels).
    const parent = dirs[Math.max(0, dirs.length - 1 - Math.floor(rand() * Math.min(dirs.length, 40)))];
    const depth = parent.split('/').length;
    const d = depth >= 6 ? path.join(top, `mod${i}`) : path.join(parent, `dir${i}`);
    await mkdir(path.join(root, d));
    dirs.push(d);
  }
  const exts = ['.ts', '.c', '.h', '.md', '.json', '.txt', '.py'];
  let bytes = 0;
  const files = TARBALL_ENTRIES - DIRS;
  for (let i = 0; i < files; i++) {
    const d = dirs[Math.floor(rand() * dirs.length)];
    const size = fileSize(rand);
    const name = `file${i}${exts[Math.floor(rand() * exts.length)]}`;
    await writeFile(path.join(root, d, name), textContent(rand, size));
    bytes += size;
  }
  const file = path.join(dir, 'tree.tar');
  await run('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-cf', file, '-C', root, top], { timeoutMs: 120_000 });
  await rm(root, { recursive: true, force: true });
  return { file, entries: TARBALL_ENTRIES, bytes };
}
