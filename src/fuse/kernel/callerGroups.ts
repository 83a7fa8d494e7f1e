/**
 * Supplementary groups of a calling process, from /proc/<pid>/status ("Groups:" line). The kernel
 * does not send them with each request, so we look them up and cache them briefly per pid.
 */
import { readFileSync } from 'node:fs';

const TTL_MS = 1000;
const MAX_ENTRIES = 1024;

export class CallerGroups {
  private readonly cache = new Map<number, { groups: number[]; at: number }>();

  /** Groups of `pid`, or [] when it cannot be read (the process is gone, or pid 0 = the kernel). */
  of(pid: number): number[] {
    if (pid <= 0) return [];
    const now = Date.now();
    const hit = this.cache.get(pid);
    if (hit && now - hit.at < TTL_MS) return hit.groups;
    const groups = readGroups(pid);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(pid, { groups, at: now });
    return groups;
  }
}

export function readGroups(pid: number): number[] {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return [];
  }
  const line = /^Groups:[ \t]*(.*)$/m.exec(status);
  if (!line) return [];
  return line[1].split(/\s+/).filter((s) => s !== '').map(Number).filter(Number.isInteger);
}
