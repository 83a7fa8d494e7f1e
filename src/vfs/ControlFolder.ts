/**
 * The control folder of a remote mount: `/.mosaicfs/` at the root, served here and never stored.
 *
 *   whoami   (read)   user, server, token expiry
 *   stats    (read)   cache hits/misses, bytes up/down, upload queue, server latency
 *   login    (write)  write the password: the session token is renewed without remounting;
 *                     the write fails with EACCES on a wrong password
 *   logout   (write)  write anything: the token is revoked on the server
 *
 * A VfsApi wrapper: everything else goes to the inner VFS unchanged. The folder and its files have
 * reserved inode numbers just below 2^53 (the MetaStore hands out small increasing numbers and
 * never reaches them) and handles above 2^52 (the VFS's are small). The name `.mosaicfs` in the
 * root cannot be created (EEXIST), removed or renamed over/away (EPERM); nothing can be created
 * in the folder (EPERM). Files belong to the mounting user: the folder 0500, whoami and stats
 * 0400, login 0600, logout 0200. Readable files are generated when opened and served with
 * direct I/O (their size changes between reads, as /proc files do).
 */
import { FsError } from '../errors.js';
import { S_IFDIR, S_IFREG } from '../meta/MetaStore.js';
import type { Ctx, InodeAttr, OpenResult, ReaddirEntry, SetAttr, StatFs, Timespec, VfsApi } from './types.js';

export const CONTROL_NAME = '.mosaicfs';
const ROOT_INO = 1;
/** Reserved inode numbers: the folder, then its files. */
export const CONTROL_DIR_INO = 2 ** 53 - 64;
const HANDLE_BASE = 2 ** 52;

/** What the control files need of a remote session (RemoteSession fits). */
export interface ControlSession {
  readonly url?: string;
  readonly user?: string;
  whoami(): unknown;
  stats(): unknown;
  login(password: string): Promise<unknown>;
  logout(): Promise<unknown>;
}

type FileKind = 'whoami' | 'stats' | 'login' | 'logout';
const FILES: ReadonlyArray<{ name: FileKind; perm: number }> = [
  { name: 'whoami', perm: 0o400 },
  { name: 'stats', perm: 0o400 },
  { name: 'login', perm: 0o600 },
  { name: 'logout', perm: 0o200 },
];
const inoOf = (i: number) => CONTROL_DIR_INO + 1 + i;

interface ControlHandle {
  kind: FileKind | 'dir' | 'rootdir';
  /** Inner VFS handle of the root directory (rootdir only). */
  inner?: number;
  content?: Buffer;
  written?: Buffer;
  writable?: boolean;
}

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const R_OK = 4;
const W_OK = 2;
const X_OK = 1;

export class ControlFolder implements VfsApi {
  private readonly handles = new Map<number, ControlHandle>();
  private nextHandle = HANDLE_BASE;
  private readonly uid: number;
  private readonly gid: number;
  private readonly since: Timespec;

  constructor(
    private readonly inner: VfsApi,
    private readonly session: ControlSession,
    owner: { uid: number; gid: number } = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
  ) {
    this.uid = owner.uid;
    this.gid = owner.gid;
    const now = Date.now();
    this.since = { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 };
  }

  // ---- the reserved inodes ----

  private isControl(ino: number): boolean {
    return ino >= CONTROL_DIR_INO && ino <= inoOf(FILES.length - 1);
  }

  private fileIndex(ino: number): number {
    return ino - CONTROL_DIR_INO - 1;
  }

  private attrOf(ino: number, size = 0): InodeAttr {
    const t = this.since;
    if (ino === CONTROL_DIR_INO) {
      return { ino, mode: S_IFDIR | 0o500, uid: this.uid, gid: this.gid, size: 0, nlink: 2, rdev: 0, allocated: 0, atime: t, mtime: t, ctime: t, crtime: t };
    }
    const f = FILES[this.fileIndex(ino)];
    if (!f) throw new FsError('ENOENT', `no control inode ${ino}`);
    return { ino, mode: S_IFREG | f.perm, uid: this.uid, gid: this.gid, size, nlink: 1, rdev: 0, allocated: 0, atime: t, mtime: t, ctime: t, crtime: t };
  }

  private async fileAttr(ino: number): Promise<InodeAttr> {
    const f = FILES[this.fileIndex(ino)];
    const size = f && (f.name === 'whoami' || f.name === 'stats') ? (await this.render(f.name)).length : 0;
    return this.attrOf(ino, size);
  }

  private controlLookup(name: string): InodeAttr {
    const i = FILES.findIndex((f) => f.name === name);
    if (i < 0) throw new FsError('ENOENT', `${CONTROL_NAME}/${name}`);
    return this.attrOf(inoOf(i));
  }

  private isReserved(parent: number, name: string): boolean {
    return parent === ROOT_INO && name === CONTROL_NAME;
  }

  /** Creating anything named .mosaicfs in the root, or anything in the folder. */
  private refuseCreate(parent: number, name: string): void {
    if (this.isReserved(parent, name)) throw new FsError('EEXIST', `/${CONTROL_NAME} is reserved`);
    if (this.isControl(parent)) throw new FsError('EPERM', `nothing can be created in /${CONTROL_NAME}`);
  }

  /** Removing or replacing the folder or one of its files. */
  private refuseChange(parent: number, name: string): void {
    if (this.isReserved(parent, name) || this.isControl(parent)) throw new FsError('EPERM', `/${CONTROL_NAME} cannot be changed`);
  }

  private check(ctx: Ctx, attr: InodeAttr, mask: number): void {
    if (ctx.uid === 0) {
      // root: any r/w; x only if some x bit is set (as the kernel does)
      if (mask & X_OK && !(attr.mode & 0o111)) throw new FsError('EACCES', 'not executable');
      return;
    }
    const perm = ctx.uid === attr.uid ? (attr.mode >> 6) & 7 : ctx.gid === attr.gid || ctx.groups?.includes(attr.gid) ? (attr.mode >> 3) & 7 : attr.mode & 7;
    if ((perm & mask) !== mask) throw new FsError('EACCES', `/${CONTROL_NAME}: permission denied`);
  }

  private async render(kind: 'whoami' | 'stats'): Promise<Buffer> {
    if (kind === 'stats') return Buffer.from(formatLines(await this.session.stats()));
    try {
      const w = (await this.session.whoami()) as Record<string, unknown>;
      return Buffer.from(formatLines({ ...w, loggedIn: true }));
    } catch (err) {
      return Buffer.from(formatLines({ user: this.session.user, server: this.session.url, loggedIn: false, reason: (err as Error).message }));
    }
  }

  private handle(fh: number): ControlHandle | undefined {
    return fh >= HANDLE_BASE ? this.handles.get(fh) : undefined;
  }

  private addHandle(h: ControlHandle): number {
    const fh = this.nextHandle++;
    this.handles.set(fh, h);
    return fh;
  }

  // ---- VfsApi ----

  async lookup(ctx: Ctx, parent: number, name: string): Promise<InodeAttr> {
    if (this.isReserved(parent, name)) return this.attrOf(CONTROL_DIR_INO);
    if (parent === CONTROL_DIR_INO) {
      if (name === '.') return this.attrOf(CONTROL_DIR_INO);
      if (name === '..') return this.inner.getattr(ctx, ROOT_INO);
      return this.fileAttr(this.controlLookup(name).ino);
    }
    if (this.isControl(parent)) throw new FsError('ENOTDIR', 'not a directory');
    return this.inner.lookup(ctx, parent, name);
  }

  async resolve(ctx: Ctx, path: string): Promise<InodeAttr> {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts[0] !== CONTROL_NAME) return this.inner.resolve(ctx, path);
    if (parts.length === 1) return this.attrOf(CONTROL_DIR_INO);
    if (parts.length === 2) return this.lookup(ctx, CONTROL_DIR_INO, parts[1]);
    throw new FsError('ENOTDIR', path);
  }

  async getattr(ctx: Ctx, ino: number): Promise<InodeAttr> {
    if (ino === CONTROL_DIR_INO) return this.attrOf(ino);
    if (this.isControl(ino)) return this.fileAttr(ino);
    return this.inner.getattr(ctx, ino);
  }

  async setattr(ctx: Ctx, ino: number, set: SetAttr, fh?: number): Promise<InodeAttr> {
    if (!this.isControl(ino)) return this.inner.setattr(ctx, ino, set, fh);
    const attr = await this.getattr(ctx, ino);
    // `echo pw > login` may truncate first: allowed (a no-op) on the writable files; nothing else is.
    const onlyTruncate = Object.keys(set).every((k) => k === 'size') && set.size === 0;
    if (onlyTruncate && attr.mode & 0o200) {
      this.check(ctx, attr, W_OK);
      return attr;
    }
    throw new FsError('EPERM', `/${CONTROL_NAME} files cannot be changed`);
  }

  async access(ctx: Ctx, ino: number, mask: number): Promise<void> {
    if (!this.isControl(ino)) return this.inner.access(ctx, ino, mask);
    this.check(ctx, this.attrOf(ino), mask);
  }

  readlink(ctx: Ctx, ino: number): Promise<string> {
    if (this.isControl(ino)) return Promise.reject(new FsError('EINVAL', 'not a symlink'));
    return this.inner.readlink(ctx, ino);
  }

  async mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<InodeAttr> {
    this.refuseCreate(parent, name);
    return this.inner.mknod(ctx, parent, name, mode, rdev);
  }

  async mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<InodeAttr> {
    this.refuseCreate(parent, name);
    return this.inner.mkdir(ctx, parent, name, mode);
  }

  async symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<InodeAttr> {
    this.refuseCreate(parent, name);
    return this.inner.symlink(ctx, parent, name, target);
  }

  async link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<InodeAttr> {
    if (this.isControl(ino)) throw new FsError('EPERM', `/${CONTROL_NAME} files cannot be linked`);
    this.refuseCreate(newParent, newName);
    return this.inner.link(ctx, ino, newParent, newName);
  }

  async unlink(ctx: Ctx, parent: number, name: string): Promise<void> {
    if (this.isReserved(parent, name)) throw new FsError('EISDIR', `/${CONTROL_NAME} is a directory`);
    this.refuseChange(parent, name);
    return this.inner.unlink(ctx, parent, name);
  }

  async rmdir(ctx: Ctx, parent: number, name: string): Promise<void> {
    this.refuseChange(parent, name);
    return this.inner.rmdir(ctx, parent, name);
  }

  async rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    this.refuseChange(parent, name);
    this.refuseChange(newParent, newName);
    return this.inner.rename(ctx, parent, name, newParent, newName, flags);
  }

  async open(ctx: Ctx, ino: number, flags: number): Promise<OpenResult> {
    if (!this.isControl(ino)) return this.inner.open(ctx, ino, flags);
    if (ino === CONTROL_DIR_INO) throw new FsError('EISDIR', `/${CONTROL_NAME}`);
    const kind = FILES[this.fileIndex(ino)].name;
    const acc = flags & O_ACCMODE;
    const wants = (acc === O_WRONLY ? W_OK : acc === O_RDWR ? R_OK | W_OK : R_OK);
    const attr = this.attrOf(ino);
    this.check(ctx, attr, wants);
    if (wants & W_OK && !(attr.mode & 0o200)) throw new FsError('EACCES', `/${CONTROL_NAME}/${kind} is read-only`);
    const content = kind === 'whoami' || kind === 'stats' ? await this.render(kind) : Buffer.alloc(0);
    const fh = this.addHandle({ kind, content, written: Buffer.alloc(0), writable: (wants & W_OK) !== 0 });
    // directIo: the kernel must read to our EOF, not to a size it cached before this rendering
    return Object.assign({ fh, attr: { ...attr, size: content.length } }, { directIo: true });
  }

  async create(ctx: Ctx, parent: number, name: string, mode: number, flags: number): Promise<OpenResult> {
    if (this.isReserved(parent, name)) throw new FsError(flags & 0o200 /* O_EXCL */ ? 'EEXIST' : 'EISDIR', `/${CONTROL_NAME} is reserved`);
    if (parent === CONTROL_DIR_INO) {
      // O_CREAT on an existing control file opens it (the shell's `>` does this)
      const i = FILES.findIndex((f) => f.name === name);
      if (i < 0) throw new FsError('EPERM', `nothing can be created in /${CONTROL_NAME}`);
      if (flags & 0o200) throw new FsError('EEXIST', `/${CONTROL_NAME}/${name} exists`);
      return this.open(ctx, inoOf(i), flags);
    }
    return this.inner.create(ctx, parent, name, mode, flags);
  }

  async read(ctx: Ctx, fh: number, offset: number, length: number): Promise<Buffer> {
    const h = this.handle(fh);
    if (!h) return this.inner.read(ctx, fh, offset, length);
    if (!h.content) throw new FsError('EISDIR', 'is a directory');
    return h.content.subarray(Math.min(offset, h.content.length), Math.min(offset + length, h.content.length));
  }

  async write(ctx: Ctx, fh: number, offset: number, data: Uint8Array): Promise<number> {
    const h = this.handle(fh);
    if (!h) return this.inner.write(ctx, fh, offset, data);
    if (!h.writable) throw new FsError('EBADF', 'not open for writing');
    if (h.kind === 'logout') {
      await this.session.logout();
      return data.length;
    }
    if (h.kind !== 'login') throw new FsError('EBADF', 'not writable');
    // One write carries the password (`echo pw > login`); split writes accumulate.
    h.written = Buffer.concat([h.written ?? Buffer.alloc(0), data]);
    const password = h.written.toString('utf8').replace(/\r?\n$/, '');
    try {
      await this.session.login(password);
    } catch (err) {
      throw loginError(err);
    } finally {
      h.written.fill(0);
    }
    h.written = Buffer.alloc(0);
    return data.length;
  }

  async flush(ctx: Ctx, fh: number): Promise<void> {
    if (!this.handle(fh)) return this.inner.flush(ctx, fh);
  }

  async fsync(ctx: Ctx, fh: number, datasync: boolean): Promise<void> {
    if (!this.handle(fh)) return this.inner.fsync(ctx, fh, datasync);
  }

  async release(ctx: Ctx, fh: number): Promise<void> {
    const h = this.handle(fh);
    if (!h) return this.inner.release(ctx, fh);
    h.written?.fill(0);
    this.handles.delete(fh);
  }

  async fallocate(ctx: Ctx, fh: number, mode: number, offset: number, length: number): Promise<void> {
    if (this.handle(fh)) throw new FsError('EOPNOTSUPP', 'fallocate on a control file');
    return this.inner.fallocate(ctx, fh, mode, offset, length);
  }

  async opendir(ctx: Ctx, ino: number): Promise<number> {
    if (ino === CONTROL_DIR_INO) {
      this.check(ctx, this.attrOf(ino), R_OK);
      return this.addHandle({ kind: 'dir' });
    }
    if (this.isControl(ino)) throw new FsError('ENOTDIR', 'not a directory');
    const fh = await this.inner.opendir(ctx, ino);
    return ino === ROOT_INO ? this.addHandle({ kind: 'rootdir', inner: fh }) : fh;
  }

  /**
   * The root lists `.mosaicfs` right after '.' and '..' (inner offsets 1 and 2): it takes offset 3,
   * and every later inner offset moves up by one.
   */
  async readdir(ctx: Ctx, fh: number, offset: number, limit: number, withAttrs?: boolean): Promise<ReaddirEntry[]> {
    const h = this.handle(fh);
    if (!h) return this.inner.readdir(ctx, fh, offset, limit, withAttrs);
    if (h.kind === 'dir') return this.controlEntries(ctx, offset, limit);
    if (h.kind !== 'rootdir') throw new FsError('ENOTDIR', 'not a directory');
    const control: ReaddirEntry = { name: CONTROL_NAME, ino: CONTROL_DIR_INO, mode: S_IFDIR | 0o500, next: 3 };
    if (offset >= 3) {
      const rest = await this.inner.readdir(ctx, h.inner!, offset - 1, limit, withAttrs);
      return rest.map((e) => ({ ...e, next: e.next + 1 }));
    }
    const got = await this.inner.readdir(ctx, h.inner!, offset, limit, withAttrs);
    const dots = got.filter((e) => e.next <= 2);
    const rest = got.filter((e) => e.next > 2 && !this.isReserved(ROOT_INO, e.name)).map((e) => ({ ...e, next: e.next + 1 }));
    return [...dots, control, ...rest].slice(0, limit);
  }

  private async controlEntries(ctx: Ctx, offset: number, limit: number): Promise<ReaddirEntry[]> {
    const root = await this.inner.getattr(ctx, ROOT_INO);
    const all: ReaddirEntry[] = [
      { name: '.', ino: CONTROL_DIR_INO, mode: S_IFDIR | 0o500, next: 1 },
      { name: '..', ino: ROOT_INO, mode: root.mode, next: 2 },
      ...FILES.map((f, i) => ({ name: f.name, ino: inoOf(i), mode: S_IFREG | f.perm, next: 3 + i })),
    ];
    return all.slice(offset, offset + limit);
  }

  async releasedir(ctx: Ctx, fh: number): Promise<void> {
    const h = this.handle(fh);
    if (!h) return this.inner.releasedir(ctx, fh);
    this.handles.delete(fh);
    if (h.kind === 'rootdir') await this.inner.releasedir(ctx, h.inner!);
  }

  async fsyncdir(ctx: Ctx, fh: number, datasync: boolean): Promise<void> {
    const h = this.handle(fh);
    if (!h) return this.inner.fsyncdir(ctx, fh, datasync);
    if (h.kind === 'rootdir') return this.inner.fsyncdir(ctx, h.inner!, datasync);
  }

  statfs(ctx: Ctx): Promise<StatFs> {
    return this.inner.statfs(ctx);
  }

  async setxattr(ctx: Ctx, ino: number, name: string, value: Buffer, flags: number): Promise<void> {
    if (this.isControl(ino)) throw new FsError('EPERM', `/${CONTROL_NAME} files have no extended attributes`);
    return this.inner.setxattr(ctx, ino, name, value, flags);
  }

  async getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer> {
    if (this.isControl(ino)) throw new FsError('ENODATA', name);
    return this.inner.getxattr(ctx, ino, name);
  }

  async listxattr(ctx: Ctx, ino: number): Promise<string[]> {
    if (this.isControl(ino)) return [];
    return this.inner.listxattr(ctx, ino);
  }

  async removexattr(ctx: Ctx, ino: number, name: string): Promise<void> {
    if (this.isControl(ino)) throw new FsError('ENODATA', name);
    return this.inner.removexattr(ctx, ino, name);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** A failed login is EACCES (wrong password, disabled, throttled); a transport failure stays EIO. */
function loginError(err: unknown): FsError {
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown; name?: unknown; message?: unknown };
  if (err instanceof FsError) return err;
  const status = Number(e.status ?? e.statusCode);
  if (status === 401 || status === 403 || status === 429) return new FsError('EACCES', 'login refused');
  if (e.code === 'EAUTH' || e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'ETHROTTLED') return new FsError('EACCES', 'login refused');
  if (typeof e.name === 'string' && /auth|password|passphrase/i.test(e.name)) return new FsError('EACCES', 'login refused');
  if (typeof e.message === 'string' && /wrong|password|unauthori[sz]ed|credentials|401|403/i.test(e.message)) return new FsError('EACCES', 'login refused');
  return new FsError('EIO', `login failed: ${String(e.message ?? err)}`);
}

/** `key: value` lines; nested objects flatten to `a.b: v`; epoch-ms fields named *At also show as ISO. */
export function formatLines(value: unknown, prefix = ''): string {
  if (value === null || typeof value !== 'object') return `${prefix || 'value'}: ${String(value)}\n`;
  let out = '';
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || typeof v === 'function') continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
      out += formatLines(v, key);
    } else if (typeof v === 'number' && /At$/.test(k) && v > 1e12) {
      out += `${key}: ${new Date(v).toISOString()}\n`;
    } else {
      out += `${key}: ${v instanceof Date ? v.toISOString() : String(v)}\n`;
    }
  }
  return out;
}
