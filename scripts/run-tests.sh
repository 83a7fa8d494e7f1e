#!/usr/bin/env bash
# Builds and runs every test with node's built-in runner. Called by `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --test --test-concurrency="${MOSAICFS_TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
