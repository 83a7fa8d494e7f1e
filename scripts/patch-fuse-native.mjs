// Fixes bugs in @cocalc/fuse-native's C source and rebuilds it (run by `npm ci` as postinstall):
//  1. utimens passed the access time in both slots, so the modification time was lost (cp -p, tar, rsync -t);
//  2. UTIME_NOW and UTIME_OMIT were rounded to the same 1073 ms; they now arrive as two distinct
//     sentinels (2^53-1 = now, 2^53-2 = omit) that src/fuse/utimens.ts decodes;
//  3. it did not set flag_utime_omit_ok, so libfuse2 silently dropped a change of only one of the two
//     times (`touch -a`, `touch -m`);
//  4. (v3) we mount with hard_remove, so an unlinked open file has no path: libfuse2 then passes a NULL
//     path to fd operations, but only if flag_nullpath_ok is set (else they fail with ENOENT), and
//     fuse-native turned every path into a JS string without a NULL check. NULL now arrives as ''.
// The patch is exact: if the source does not look as expected, it fails loudly instead of guessing.
// The first patch keeps the pristine source as fuse-native.c.orig; a different patch version
// re-patches from that copy, so versions never stack.
import { readFileSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@cocalc/fuse-native/package.json'));
const file = join(pkgDir, 'fuse-native.c');
const pristineCopy = `${file}.orig`;
const MARK = '/* mosaicfs fuse-native patch v3 */';
/** Patched by v2 of this script, which kept no pristine copy: undone by reversing its exact edits. */
const LEGACY_MARK = '/* mosaicfs utimens patch v2 */';
const ANY_MARK = /\/\* mosaicfs [a-z -]*patch v\d+ \*\//;

/** Exact edits, each of which must match exactly once. */
const utimensEdits = (mark) => [
  [
    'static uint64_t timespec_to_uint64 (const struct timespec* ts) {',
    `${mark}\nstatic uint64_t utimens_arg (const struct timespec* ts) {\n  if (ts->tv_nsec == UTIME_NOW) return 9007199254740991ULL;\n  if (ts->tv_nsec == UTIME_OMIT) return 9007199254740990ULL;\n  return (ts->tv_sec * 1000) + (ts->tv_nsec / 1000000);\n}\n\nstatic uint64_t timespec_to_uint64 (const struct timespec* ts) {`,
  ],
  ['  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);', '  l->atime = utimens_arg(&tv[0]);\n  l->mtime = utimens_arg(&tv[1]);'],
  ['  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)', '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'],
  ['  struct fuse_operations ops = { };\n', '  struct fuse_operations ops = { };\n  ops.flag_utime_omit_ok = 1;\n'],
];
const nullPathEdits = [
  ['  ops.flag_utime_omit_ok = 1;\n', '  ops.flag_utime_omit_ok = 1;\n  ops.flag_nullpath_ok = 1;\n'],
];
/** Replaced everywhere (counted): every path handed to JS, which is NULL for an unlinked open file. */
const PATH_TO_JS = ['napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH,', 'napi_create_string_utf8(env, l->path ? l->path : "", NAPI_AUTO_LENGTH,'];

let src = readFileSync(file, 'utf8');

if (!src.includes(MARK)) {
  src = pristine(src);
  for (const [from, to] of [...utimensEdits(MARK), ...nullPathEdits]) src = replaceOnce(src, from, to);
  const count = src.split(PATH_TO_JS[0]).length - 1;
  if (count === 0) die(`unexpected source in ${file}; found no:\n${PATH_TO_JS[0]}`);
  src = src.replaceAll(PATH_TO_JS[0], PATH_TO_JS[1]);
  writeFileSync(file, src);
  console.error(`patch-fuse-native: patched utimens and NULL paths (${count} path arguments); rebuilding @cocalc/fuse-native`);
  rebuild();
} else if (!existsSync(join(pkgDir, 'build', 'Release', 'fuse.node'))) {
  rebuild();
}

/** The unpatched source; saves it as fuse-native.c.orig the first time. */
function pristine(current) {
  if (!ANY_MARK.test(current)) {
    copyFileSync(file, pristineCopy);
    return current;
  }
  if (existsSync(pristineCopy)) {
    console.error(`patch-fuse-native: older patch found; re-patching from ${pristineCopy}`);
    return readFileSync(pristineCopy, 'utf8');
  }
  if (!current.includes(LEGACY_MARK)) die(`${file} carries an unknown mosaicfs patch and there is no ${pristineCopy}; reinstall @cocalc/fuse-native`);
  let restored = current;
  for (const [from, to] of utimensEdits(LEGACY_MARK).reverse()) restored = replaceOnce(restored, to, from);
  writeFileSync(pristineCopy, restored);
  console.error(`patch-fuse-native: undid the v2 patch; saved the pristine source as ${pristineCopy}`);
  return restored;
}

function replaceOnce(text, from, to) {
  if (text.split(from).length !== 2) die(`unexpected source in ${file}; expected exactly one:\n${from}`);
  return text.replace(from, () => to);
}

function die(message) {
  console.error(`patch-fuse-native: ${message}`);
  process.exit(1);
}

// node-gyp ships inside npm; npm tells lifecycle scripts where (npm_config_node_gyp, npm_execpath).
function rebuild() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter((p) => p && existsSync(p));
  if (candidates.length === 0) die('node-gyp not found (it ships with npm)');
  execFileSync(process.execPath, [candidates[0], 'rebuild'], { cwd: pkgDir, stdio: 'inherit' });
}
