#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test (node --test). Exit code says green.
#   Beyond scripts/setup.sh the tests need a PostgreSQL server binary (Debian's postgresql: the tests
#   start a throwaway cluster of their own in a temp folder, listening on a unix socket only) and
#   util-linux's setpriv (second-user tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/apt-need.sh
apt_need postgresql util-linux
npm test
