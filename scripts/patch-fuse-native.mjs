// Fixes two bugs in @cocalc/fuse-native's C source and rebuilds it (run by `npm ci` as postinstall):
//  1. utimens passed the access time in both slots, so the modification time was lost (cp -p, tar, rsync -t);
//  2. UTIME_NOW and UTIME_OMIT were rounded to the same 1073 ms; they now arrive as two distinct
//     sentinels (2^53-1 = now, 2^53-2 = omit) that src/fuse/utimens.ts decodes;
//  3. it did not set flag_utime_omit_ok, so libfuse2 silently dropped a change of only one of the two
//     times (`touch -a`, `touch -m`).
// The patch is exact: if the source does not look as expected, it fails loudly instead of guessing.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@cocalc/fuse-native/package.json'));
const file = join(pkgDir, 'fuse-native.c');
const MARK = '/* mosaicfs utimens patch v2 */';
let src = readFileSync(file, 'utf8');

if (!src.includes(MARK)) {
  const edits = [
    [
      'static uint64_t timespec_to_uint64 (const struct timespec* ts) {',
      `${MARK}\nstatic uint64_t utimens_arg (const struct timespec* ts) {\n  if (ts->tv_nsec == UTIME_NOW) return 9007199254740991ULL;\n  if (ts->tv_nsec == UTIME_OMIT) return 9007199254740990ULL;\n  return (ts->tv_sec * 1000) + (ts->tv_nsec / 1000000);\n}\n\nstatic uint64_t timespec_to_uint64 (const struct timespec* ts) {`,
    ],
    ['  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);', '  l->atime = utimens_arg(&tv[0]);\n  l->mtime = utimens_arg(&tv[1]);'],
    ['  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)', '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'],
    ['  struct fuse_operations ops = { };\n', '  struct fuse_operations ops = { };\n  ops.flag_utime_omit_ok = 1;\n'],
  ];
  for (const [from, to] of edits) {
    if (src.split(from).length !== 2) {
      console.error(`patch-fuse-native: unexpected source in ${file}; expected exactly one:\n${from}`);
      process.exit(1);
    }
    src = src.replace(from, to);
  }
  writeFileSync(file, src);
  console.error('patch-fuse-native: patched utimens; rebuilding @cocalc/fuse-native');
  rebuild();
} else if (!existsSync(join(pkgDir, 'build', 'Release', 'fuse.node'))) {
  rebuild();
}

// node-gyp ships inside npm; npm tells lifecycle scripts where (npm_config_node_gyp, npm_execpath).
function rebuild() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter((p) => p && existsSync(p));
  if (candidates.length === 0) {
    console.error('patch-fuse-native: node-gyp not found (it ships with npm)');
    process.exit(1);
  }
  execFileSync(process.execPath, [candidates[0], 'rebuild'], { cwd: pkgDir, stdio: 'inherit' });
}
