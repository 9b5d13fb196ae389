#!/usr/bin/env bash
# tests/fuzz/replay.sh FUZZER DIR — runs FUZZER once on every file in DIR (the
# checked-in crash reproducers of tests/fuzz/regressions/<target>/), no
# fuzzing. Passes when DIR is absent or empty.
set -euo pipefail
fuzzer=$1
dir=$2
shopt -s nullglob
files=("$dir"/*)
if ((${#files[@]} == 0)); then
  echo "replay: no reproducers in $dir"
  exit 0
fi
exec "$fuzzer" -runs=1 "${files[@]}"
