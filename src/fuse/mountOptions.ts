/**
 * `-o a,b=c` mount options, as other FUSE file systems take them (so an fstab line works later).
 *
 * Defaults, chosen for one writer (this mount holds the volume lock, nobody else changes it):
 * - default_permissions: unless given (`default_permissions` / `no_default_permissions`), on for
 *   every mount except one of the kernel binding made by root without allow_other
 *   (resolveDefaultPermissions). fuse-native never tells us the caller's uid/gid, so there the
 *   kernel must enforce permissions from the attributes we return (off means NOTHING is checked, as
 *   the VFS only sees root). The kernel binding passes the caller to the VFS, which checks every
 *   operation itself; only root (uid and gid 0) can reach a mount without allow_other, and root passes
 *   every check the kernel would make from the attributes (exec bits on files the kernel still checks
 *   without the option), so the option would only cost a GETATTR of the parent after each change of a
 *   directory (the kernel drops the directory's attributes and refreshes them for its next check).
 *   One difference remains: a uid-0 caller stripped of CAP_DAC_OVERRIDE is refused by the kernel
 *   with the option and served without it (FUSE requests carry no capabilities).
 * - binding=kernel (default) or binding=fuse-native: which FUSE binding serves the mount. kernel is
 *   mosaicfs's own (src/fuse/kernel/): inode based, caller identity, ns times, rename flags.
 * - attr_timeout=1 with the kernel binding (real inode numbers: one kernel inode per file, so hard
 *   links never go stale). With binding=fuse-native the default is attr_timeout=0, for hard links:
 *   libfuse2's high-level (path) API gives each name of a
 *   hard-linked file its own kernel inode, so after link(a, b) or a write through b the kernel's
 *   cached attributes of a (nlink, size, mtime) stay stale for attr_timeout, and with them a's page
 *   cache (auto_cache and the kernel invalidate pages only on a size/mtime change they see). The
 *   timeout is global in libfuse2 (no per-file choice), and per-open direct_io would not fix the
 *   stale stat of a name that is not open. Cost: every stat is a round trip to us, 6-8x fewer stats
 *   per second (2,000 stats of one file, 2 shared cores: 52-61 ms -> 318-458 ms, i.e. ~35,000/s ->
 *   ~4,500-6,300/s). Bulk I/O is unaffected. `-o attr_timeout=1` brings the cache back for trees
 *   without hard links.
 * - entry_timeout=1 (libfuse's default): names change only through us, so cached lookups are safe.
 * - negative_timeout=0: a name that was just created is never reported missing from a stale cache.
 * - auto_cache ON: the page cache survives close/open while size and mtime are unchanged (warm
 *   re-reads ~5x faster); `kernel_cache` keeps it unconditionally, `no_auto_cache` turns it off.
 * - writeback_delay=3 (embedded volumes): a closed file's buffered data is uploaded 3 s after its
 *   first close (sooner when fsync'd, when the buffer is half full, or at unmount), as ext4 delays
 *   allocation; a file deleted before then is never uploaded. 0 starts the upload at close.
 * - read_store ON (kernel binding only): after a READ, the rest of its 64 KiB segment goes into the
 *   kernel's page cache (FUSE_NOTIFY_STORE, src/fuse/kernel/readStore.ts), so random reads near an
 *   earlier miss are page-cache hits; `no_read_store` turns it off.
 */
export type FuseBinding = 'fuse-native' | 'kernel';

export interface MountOptions {
  binding: FuseBinding;
  allowOther: boolean;
  readonly: boolean;
  /** 'auto': see resolveDefaultPermissions. */
  defaultPermissions: boolean | 'auto';
  attrTimeout: number;
  entryTimeout: number;
  negativeTimeout: number;
  kernelCache: boolean;
  autoCache: boolean;
  nonempty: boolean;
  fsname: string;
  /** Memory block cache, bytes. */
  cacheSize: number;
  /** Write buffer bound, bytes. */
  writeBuffer: number;
  /** Disk cache of sealed blocks, bytes; 0 = off; undefined = off unless a cache folder is given. */
  diskCacheSize?: number;
  /** Push the rest of a read's segment into the kernel page cache (kernel binding). */
  readStore: boolean;
  /** Seconds a closed file's buffered data waits before its upload starts (embedded volumes). */
  writebackDelay: number;
}

export const DEFAULT_MOUNT_OPTIONS: Readonly<MountOptions> = Object.freeze({
  binding: 'kernel' as FuseBinding,
  allowOther: false,
  readonly: false,
  defaultPermissions: 'auto',
  attrTimeout: 1,
  entryTimeout: 1,
  negativeTimeout: 0,
  kernelCache: false,
  autoCache: true,
  nonempty: false,
  fsname: 'mosaicfs',
  cacheSize: 64 * 1024 * 1024,
  writeBuffer: 64 * 1024 * 1024,
  readStore: true,
  writebackDelay: 3,
});

/** libfuse2's path API gives each name of a hard link its own kernel inode: no attribute cache (see above). */
const FUSE_NATIVE_ATTR_TIMEOUT = 0;

/** A bad `-o` string. */
export class MountOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountOptionError';
  }
}

type Setter = (o: MountOptions, value: string | undefined, name: string) => void;

const flag = (apply: (o: MountOptions) => void): Setter => (o, value, name) => {
  if (value !== undefined) throw new MountOptionError(`mount option ${name} takes no value`);
  apply(o);
};
const seconds = (key: 'attrTimeout' | 'entryTimeout' | 'negativeTimeout' | 'writebackDelay'): Setter => (o, value, name) => {
  const n = Number(required(value, name));
  if (!Number.isFinite(n) || n < 0) throw new MountOptionError(`mount option ${name} needs a number of seconds >= 0, got "${value}"`);
  o[key] = n;
};
const bytes = (key: 'cacheSize' | 'writeBuffer' | 'diskCacheSize'): Setter => (o, value, name) => {
  o[key] = parseSize(required(value, name), name);
};
/** Options mount(8)/fstab pass that mean nothing to us (FUSE mounts are nodev,nosuid already). */
const ignored: Setter = () => {};

const SETTERS: Record<string, Setter> = {
  binding: (o, value, name) => {
    const v = required(value, name);
    if (v !== 'fuse-native' && v !== 'kernel') throw new MountOptionError(`mount option binding must be fuse-native or kernel, got "${v}"`);
    o.binding = v;
  },
  allow_other: flag((o) => { o.allowOther = true; }),
  ro: flag((o) => { o.readonly = true; }),
  rw: flag((o) => { o.readonly = false; }),
  default_permissions: flag((o) => { o.defaultPermissions = true; }),
  no_default_permissions: flag((o) => { o.defaultPermissions = false; }),
  attr_timeout: seconds('attrTimeout'),
  entry_timeout: seconds('entryTimeout'),
  negative_timeout: seconds('negativeTimeout'),
  writeback_delay: seconds('writebackDelay'),
  kernel_cache: flag((o) => { o.kernelCache = true; }),
  auto_cache: flag((o) => { o.autoCache = true; }),
  no_auto_cache: flag((o) => { o.autoCache = false; }),
  nonempty: flag((o) => { o.nonempty = true; }),
  read_store: flag((o) => { o.readStore = true; }),
  no_read_store: flag((o) => { o.readStore = false; }),
  fsname: (o, value, name) => {
    const v = required(value, name);
    if (/[\s,]/.test(v)) throw new MountOptionError('mount option fsname must not contain spaces or commas');
    o.fsname = v;
  },
  cache_size: bytes('cacheSize'),
  write_buffer: bytes('writeBuffer'),
  disk_cache_size: bytes('diskCacheSize'),
  defaults: ignored, auto: ignored, noauto: ignored, nofail: ignored, _netdev: ignored,
  user: ignored, users: ignored, nouser: ignored, dev: ignored, nodev: ignored, suid: ignored,
  nosuid: ignored, exec: ignored, noexec: ignored, atime: ignored, noatime: ignored, relatime: ignored,
};

/** Parse any number of `-o` strings (later options win). Throws MountOptionError for unknown or bad options. */
export function parseMountOptions(strings: readonly string[]): MountOptions {
  const opts: MountOptions = { ...DEFAULT_MOUNT_OPTIONS };
  let attrTimeoutGiven = false;
  for (const s of strings) {
    for (const item of s.split(',')) {
      if (item === '') continue;
      const eq = item.indexOf('=');
      const name = eq < 0 ? item : item.slice(0, eq);
      const value = eq < 0 ? undefined : item.slice(eq + 1);
      if (name.startsWith('x-')) continue; // fstab convention: options for other programs
      const set = Object.hasOwn(SETTERS, name) ? SETTERS[name] : undefined;
      if (!set) throw new MountOptionError(`unknown mount option "${name}" (known: ${Object.keys(SETTERS).filter((k) => SETTERS[k] !== ignored).join(', ')})`);
      set(opts, value, name);
      if (name === 'attr_timeout') attrTimeoutGiven = true;
    }
  }
  if (opts.binding === 'fuse-native' && !attrTimeoutGiven) opts.attrTimeout = FUSE_NATIVE_ATTR_TIMEOUT;
  return opts;
}

/** The option string to hand a re-executed daemon so it parses to the same options. */
export function formatMountOptions(o: MountOptions): string {
  const parts = [
    `binding=${o.binding}`,
    o.allowOther && 'allow_other',
    o.readonly && 'ro',
    o.defaultPermissions === true && 'default_permissions',
    o.defaultPermissions === false && 'no_default_permissions',
    `attr_timeout=${o.attrTimeout}`,
    `entry_timeout=${o.entryTimeout}`,
    `negative_timeout=${o.negativeTimeout}`,
    o.kernelCache && 'kernel_cache',
    o.autoCache ? 'auto_cache' : 'no_auto_cache',
    o.nonempty && 'nonempty',
    `fsname=${o.fsname}`,
    `cache_size=${o.cacheSize}`,
    `write_buffer=${o.writeBuffer}`,
    o.diskCacheSize !== undefined && `disk_cache_size=${o.diskCacheSize}`,
    !o.readStore && 'no_read_store',
    `writeback_delay=${o.writebackDelay}`,
  ];
  return parts.filter((p): p is string => typeof p === 'string').join(',');
}

/** Sizes like 4096, 64K, 256M, 1G, 1.5GiB (binary units). */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new MountOptionError(`${what}: "${text}" is not a size (e.g. 512M, 2G)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new MountOptionError(`mount option ${name} needs a value (${name}=...)`);
  return value;
}

/**
 * Whether the kernel checks permissions from our attributes (mount option default_permissions).
 * 'auto': off only for the kernel binding mounted by root without allow_other (see the top comment).
 */
export function resolveDefaultPermissions(o: MountOptions, mounterUid: number): boolean {
  if (o.defaultPermissions !== 'auto') return o.defaultPermissions;
  return o.binding !== 'kernel' || o.allowOther || mounterUid !== 0;
}

/** libfuse options for these mount options (the kernel-facing part). */
export function fuseOptionList(o: MountOptions): string[] {
  const list = [
    'big_writes', 'max_write=1048576', 'use_ino', `fsname=${o.fsname}`, 'subtype=mosaicfs',
    `attr_timeout=${o.attrTimeout}`, `entry_timeout=${o.entryTimeout}`, `negative_timeout=${o.negativeTimeout}`,
  ];
  if (o.defaultPermissions !== false) list.push('default_permissions'); // fuse-native: 'auto' is on
  if (o.allowOther) list.push('allow_other');
  if (o.readonly) list.push('ro');
  if (o.kernelCache) list.push('kernel_cache');
  else if (o.autoCache) list.push('auto_cache');
  if (o.nonempty) list.push('nonempty');
  return list;
}
