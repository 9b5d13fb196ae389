#!/usr/bin/env bash
# scripts/check-format.sh — fails when a C++ source differs from .clang-format.
# Fix with: scripts/check-format.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' '*.cu' '*.cuh' \
  2>/dev/null | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if ((${#files[@]} == 0)); then exit 0; fi
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
fi
