#!/usr/bin/env bash
# scripts/gpu_check.sh — the CUDA backend on a machine with a GPU: configure
# and build without the server (kernels + engine + their tests; no gRPC,
# Protobuf or prometheus-cpp), run every `gpu` test (the ops against the CPU
# ones, and whole models on the CUDA backend against the CPU backend:
# gpu_backend_test), then compute-sanitizer
# memcheck over the gpu test binaries at reduced sizes (INFERD_GPU_TEST_SMALL=1).
#
#   scripts/gpu_check.sh [STEP...]      STEP: build | build-all | test | sanitize | bench | all
#                                       (default: build test sanitize)
#   scripts/gpu_check.sh all            build, test, sanitize and bench, each step's
#                                       outcome, time and output tail into one Markdown
#                                       report: $OUT/gpu-report.md under the device tool,
#                                       else $BUILD_DIR/gpu-report.md. Never stops early:
#                                       a failed step is reported and the next one runs.
#   BUILD_DIR=build-gpu CUDA_ARCH=90    (environment, the defaults shown)
#   GTEST_FILTER=...                    (optional, for test and sanitize)
#
# build compiles only what the gpu tests and benchmarks need (fast; the GPU
# machine's time is scarce); build-all compiles everything of the
# -DINFERD_BUILD_SERVER=OFF configuration. bench runs loadtest/gpu_benchmarks.sh.
# Steps can run in separate calls: the build directory stays between them.
#
# The GPU machine has no Debian -dev packages. Pack them here, on the
# development machine, into .sysroot/ (git-ignored) and carry it along:
#   ../shared/scripts/device-sysroot.sh .sysroot libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
# then, with the device tool: run(command="scripts/gpu_check.sh", carry=[".sysroot"]).
# This script puts .sysroot on CMAKE_PREFIX_PATH, CPATH, LIBRARY_PATH and
# LD_LIBRARY_PATH when it is present.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-gpu}
arch=${CUDA_ARCH:-90}
steps=("$@")
if ((${#steps[@]} == 0)); then steps=(build test sanitize); fi

if [ -d .sysroot/root/usr ]; then
  root=$PWD/.sysroot/root/usr
  export CMAKE_PREFIX_PATH=$root${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export CPATH=$root/include${CPATH:+:$CPATH}
  export LIBRARY_PATH=$root/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=$root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if [ -d /usr/local/cuda/bin ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
jobs=$(nproc)
gpu_targets=(gpu_kernels_test gpu_device_info_test gpu_backend_test gpu_attention_benchmark)

configure() {
  nvidia-smi -L || echo "gpu_check: nvidia-smi failed (no GPU?)"
  # INFERD_WERROR=OFF: that machine's compiler is not Debian's g++ 12 (warnings
  # are enforced where CI builds; here the point is to run the tests).
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DINFERD_BUILD_SERVER=OFF \
    -DINFERD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DINFERD_WERROR=OFF
}

# `all`: every step in a subshell, its output kept, then one report.
if [ "${1:-}" = "all" ]; then
  mkdir -p "$build"
  report=${OUT:+$OUT/gpu-report.md}
  report=${report:-$build/gpu-report.md}
  logs=$(mktemp -d)
  {
    echo "# inferd GPU check"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
    echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
    echo
    echo "| step | result | seconds |"
    echo "|---|---|---|"
  } > "$report"
  for step in build test sanitize bench; do
    start=$SECONDS
    if "$0" "$step" > "$logs/$step.txt" 2>&1; then result=pass; else result="FAIL (exit $?)"; fi
    echo "| $step | $result | $((SECONDS - start)) |" >> "$report"
    echo "gpu_check all: $step: $result"
  done
  for step in build test sanitize bench; do
    {
      echo
      echo "## $step"
      echo
      if [ "$step" = test ]; then
        echo "Failed or skipped tests, and each whole-model comparison line:"
        echo
        echo '```'
        grep -E "FAILED|Failed|SKIPPED|tests passed|tests failed|max \|cuda - cpu\|" \
          "$logs/$step.txt" | head -200 || true
        echo '```'
      fi
      echo
      echo "Last 60 lines of its output:"
      echo
      echo '```'
      tail -60 "$logs/$step.txt"
      echo '```'
    } >> "$report"
  done
  echo "gpu_check all: report in $report"
  exit 0
fi

filter_args=()
if [ -n "${GTEST_FILTER:-}" ]; then filter_args=(--gtest_filter="$GTEST_FILTER"); fi

for step in "${steps[@]}"; do
  case $step in
    build)
      configure
      cmake --build "$build" -j "$jobs" --target "${gpu_targets[@]}"
      ;;
    build-all)
      configure
      cmake --build "$build" -j "$jobs"
      ;;
    test)
      if [ -n "${GTEST_FILTER:-}" ]; then
        "$build"/tests/gpu_kernels_test "${filter_args[@]}"
      else
        ctest --test-dir "$build" -L gpu --output-on-failure -j 4
        # Again alone for its per-model lines (max |cuda - cpu|, agreement).
        "$build"/tests/gpu_backend_test
      fi
      ;;
    sanitize)
      sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
      for t in "$build"/tests/gpu_device_info_test "$build"/tests/gpu_kernels_test \
        "$build"/tests/gpu_backend_test; do
        echo "gpu_check: compute-sanitizer memcheck $t (INFERD_GPU_TEST_SMALL=1)"
        INFERD_GPU_TEST_SMALL=1 "$sanitizer" --tool memcheck --error-exitcode 1 \
          --leak-check full "$t" "${filter_args[@]}"
      done
      ;;
    bench)
      loadtest/gpu_benchmarks.sh "$build"
      ;;
    *)
      echo "usage: $0 [build|build-all|test|sanitize|bench]... | all" >&2
      exit 2
      ;;
  esac
done
echo "gpu_check: ${steps[*]}: done"
