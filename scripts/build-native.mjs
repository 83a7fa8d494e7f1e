// Builds mosaicfs's own FUSE device helper (native/fusedev -> native/fusedev/build/Release/fusedev.node)
// with the node-gyp that ships inside npm. Run by `npm ci` as part of postinstall;
// uses the node headers from npm_config_nodedir when set, else /usr.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = join(root, 'native', 'fusedev');

const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
if (candidates.length === 0) {
  console.error('build-native: node-gyp not found (it ships with npm)');
  process.exit(1);
}
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const args = [candidates[0], 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
execFileSync(process.execPath, args, { cwd: addonDir, stdio: 'inherit' });
console.error(`build-native: built ${join(addonDir, 'build', 'Release', 'fusedev.node')}`);
