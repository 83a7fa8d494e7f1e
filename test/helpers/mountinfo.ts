import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  options: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const r = (right ?? '').split(' ');
    out.push({ mountpoint: unescapeMountField(f[4]), options: f[5], fstype: r[0] ?? '', source: unescapeMountField(r[1] ?? '') });
  }
  return out;
}

export async function mountAt(mountpoint: string): Promise<MountEntry | undefined> {
  return (await readMounts()).find((m) => m.mountpoint === mountpoint);
}

export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountAt(mountpoint)) !== undefined;
}

/** Polls until `pred` holds or the time is up; returns whether it held. */
export async function waitFor(pred: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
