import {
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID, S_ISVTX,
  type Timespec,
} from '../meta/MetaStore.js';

const TYPE_CHAR: Record<number, string> = {
  [S_IFREG]: '-', [S_IFDIR]: 'd', [S_IFLNK]: 'l', [S_IFIFO]: 'p', [S_IFSOCK]: 's', [S_IFCHR]: 'c', [S_IFBLK]: 'b',
};

const TYPE_NAME: Record<number, string> = {
  [S_IFREG]: 'regular file', [S_IFDIR]: 'directory', [S_IFLNK]: 'symbolic link', [S_IFIFO]: 'fifo',
  [S_IFSOCK]: 'socket', [S_IFCHR]: 'character special file', [S_IFBLK]: 'block special file',
};

/** 0o100644 -> "-rw-r--r--" (with s/S/t/T for setuid, setgid, sticky). */
export function modeString(mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') +
    (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (TYPE_CHAR[mode & S_IFMT] ?? '?') +
    rwx((mode >> 6) & 7, (mode & S_ISUID) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & S_ISGID) !== 0, 's') +
    rwx(mode & 7, (mode & S_ISVTX) !== 0, 't');
}

export function typeName(mode: number): string {
  return TYPE_NAME[mode & S_IFMT] ?? 'unknown';
}

/** "2024-05-01 12:34:56.123456789 +0000" (UTC, all nanoseconds). */
export function formatTimespec(t: Timespec): string {
  const iso = new Date(t.sec * 1000).toISOString(); // 2024-05-01T12:34:56.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(t.nsec).padStart(9, '0')} +0000`;
}

/** ls -l style short time: "2024-05-01 12:34" (UTC). */
export function formatShortTime(t: Timespec): string {
  const iso = new Date(t.sec * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}
