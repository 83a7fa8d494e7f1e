#!/usr/bin/env bash
# Installs everything mosaicfs needs on Debian 12 (run as root) and builds it. Idempotent.
#   apt: fuse3 (fusermount, /dev/fuse tooling), libfuse2 + libfuse-dev (the libfuse 2.9 that
#        @cocalc/fuse-native links against), build tools for the native addons, attr (setfattr/getfattr
#        for the xattr tests).
#   npm: `npm ci` (builds better-sqlite3 and @cocalc/fuse-native from source), then `tsc`.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/apt-need.sh
apt_need fuse3 libfuse2 libfuse-dev pkg-config build-essential python3 attr
command -v node >/dev/null || { echo "setup: Node.js 20 is required (apt-get install nodejs npm)" >&2; exit 1; }
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || { echo "setup: /dev/fuse is missing: this machine cannot mount FUSE file systems" >&2; exit 1; }

# npm ci only when the installed tree does not match the lock file (it compiles two native addons).
stamp=node_modules/.mosaicfs-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-fund --no-audit
  cp package-lock.json "$stamp"
fi
npm run --silent build
