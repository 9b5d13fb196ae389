#!/usr/bin/env bash
# deploy/runtime-packages.sh BINARY... — prints, one a line, the Debian/Ubuntu
# packages that own the shared libraries the binaries load (ldd), so that the
# image's runtime stage installs exactly those and no -dev package. Libraries
# that no package owns (the CUDA driver, absent at build time; CUDA libraries
# the runtime base image already has) are named on stderr and skipped.
set -euo pipefail
if (($# == 0)); then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi
ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | while read -r lib; do
  # Match on "<directory>/<soname>": the soname link is in the runtime package,
  # and the directory keeps lib32/multilib copies of the same soname out.
  dir=$(cd "$(dirname "$lib")" && pwd -P)
  if ! owners=$(dpkg -S "*/${dir##*/}/${lib##*/}" 2>/dev/null); then
    echo "runtime-packages: no package owns $lib; skipped" >&2
    continue
  fi
  # "pkg1:amd64, pkg2:amd64: /path" -> pkg1 pkg2
  awk -F': ' '{ print $1 }' <<<"$owners" | tr ',' '\n' | sed 's/:.*//; s/ //g'
done | sort -u
