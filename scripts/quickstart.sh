#!/usr/bin/env bash
# Quick start: install, build, create an embedded volume at ./vol (if missing) and mount it at ./mnt.
# The passphrase comes from MOSAICFS_PASSPHRASE, or is asked on the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VOL=${MOSAICFS_VOLUME:-./vol}
MNT=${MOSAICFS_MOUNTPOINT:-./mnt}
[ -f "$VOL/mosaicfs.json" ] || node bin/mosaicfs.js init "$VOL"
mkdir -p "$MNT"
node bin/mosaicfs.js mount "$VOL" "$MNT"
echo "mosaicfs: $VOL is mounted at $MNT (unmount with: node bin/mosaicfs.js umount $MNT)"
