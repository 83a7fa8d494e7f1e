/** Reading /proc/self/mountinfo: is a path a mount point, and of what. */
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

const MOUNTINFO = '/proc/self/mountinfo';

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile(MOUNTINFO, 'utf8'));
}

/** Format: id parent major:minor root mountpoint options [optional...] - fstype source superopts */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 5 || sep < 0) continue;
    out.push({ mountPoint: unescapeOctal(f[4]), fsType: f[sep + 1] ?? '', source: unescapeOctal(f[sep + 2] ?? '') });
  }
  return out;
}

/** The kernel escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) : s;
}

/** The mount entry at exactly this absolute path (the last one if stacked), or null. */
export async function findMount(absPath: string): Promise<MountEntry | null> {
  const mounts = await readMounts();
  for (let i = mounts.length - 1; i >= 0; i--) if (mounts[i].mountPoint === absPath) return mounts[i];
  return null;
}
