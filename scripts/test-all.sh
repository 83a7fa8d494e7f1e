#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test (node --test). Exit code says green.
#   Beyond scripts/setup.sh the tests need a PostgreSQL server binary (Debian's postgresql: the tests
#   start a throwaway cluster of their own in a temp folder, listening on a unix socket only) and
#   util-linux's setpriv (second-user tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
need_apt=()
for pkg in postgresql util-linux; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-all: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
npm test
