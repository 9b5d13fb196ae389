#!/usr/bin/env bash
# scripts/test.sh — the whole suite: format check, build, then every test
# through CTest. Extra arguments go to ctest (e.g. -L unit, -R scheduler).
# Tests that need ../shared (models, goldens) skip with a message when it is
# absent; set INFERD_SHARED_DIR to point elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/check-format.sh
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
