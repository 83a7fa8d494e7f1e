#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test (node --test). Exit code says green.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
