#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — builds the libFuzzer targets (tests/fuzz/) with
# Clang, ASan and UBSan in build-fuzz/, then runs the `fuzz` CTest label:
# SECONDS (default 10) of fuzzing per target, then a replay of the checked-in
# crash reproducers (tests/fuzz/regressions/). Extra arguments go to ctest
# (e.g. -R tokenizer_json). In CI, scripts/test.sh runs it after the
# sanitizer passes at 20 s per target.
#
#   scripts/fuzz.sh          # 10 s per target
#   scripts/fuzz.sh 600      # a longer campaign
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
shift || true
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
  -DINFERD_BUILD_FUZZERS=ON -DINFERD_FUZZ_SECONDS="$seconds" -DINFERD_CUDA=OFF \
  -DINFERD_BUILD_TESTS=OFF -DINFERD_BUILD_BENCHMARKS=OFF
cmake --build build-fuzz -j "$(nproc)" --target fuzzers
ctest --test-dir build-fuzz --output-on-failure -L fuzz -j "$(nproc)" "$@"
