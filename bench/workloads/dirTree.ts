// A directory tree: mkdir all, list (readdir every dir), rename the top back and forth, remove all.
import { mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { timed } from './timing.js';

/** Relative paths of the tree, parents before children. */
function treePaths(fanout: number[]): string[] {
  let level = [''];
  const all: string[] = [];
  for (const f of fanout) {
    const next: string[] = [];
    for (const parent of level) {
      for (let i = 0; i < f; i++) next.push(path.join(parent, `d${i}`));
    }
    all.push(...next);
    level = next;
  }
  return all;
}

export function dirTree(base: string, fanout: number[], renames: number): Record<string, number> {
  const rel = treePaths(fanout);
  let top = path.join(base, 'tree-a');
  const mkdir = timed(() => {
    mkdirSync(top);
    for (const r of rel) mkdirSync(path.join(top, r));
  });

  let listed = 0;
  const list = timed(() => {
    const walk = (dir: string) => {
      listed++;
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
    };
    walk(top);
  });
  if (listed !== rel.length + 1) throw new Error(`listed ${listed} dirs, made ${rel.length + 1}`);

  const rename = timed(() => {
    for (let i = 0; i < renames; i++) {
      const to = path.join(base, i % 2 === 0 ? 'tree-b' : 'tree-a');
      renameSync(top, to);
      top = to;
    }
  });
  readdirSync(path.join(top, rel[rel.length - 1])); // the deepest dir is still reachable after the renames

  const remove = timed(() => {
    for (let i = rel.length - 1; i >= 0; i--) rmdirSync(path.join(top, rel[i]));
    rmdirSync(top);
  });
  const dirs = rel.length + 1;
  return {
    dirs,
    mkdirPerSec: dirs / mkdir,
    listPerSec: dirs / list,
    renamePerSec: renames / rename,
    removePerSec: dirs / remove,
  };
}
