#!/usr/bin/env bash
# scripts/gpu_check.sh — the CUDA backend on a machine with a GPU: configure
# and build without the server (kernels + engine + their tests; no gRPC,
# Protobuf or prometheus-cpp), run every `gpu` test (the ops against the CPU
# ones; whole models on the CUDA backend against the CPU backend:
# gpu_backend_test; the whole engine on --device cuda: gpu_engine_test, the
# stories260K golden tokens, 16 concurrent streams against their solo runs,
# the KV pool within --gpu-memory-utilization), the benchmarks, then
# compute-sanitizer memcheck over the op test binaries at reduced sizes
# (INFERD_GPU_TEST_SMALL=1).
#
#   scripts/gpu_check.sh [STEP...]   STEP: build | build-all | model | engine | e2e | test |
#                                    bench | sanitize | all
#                                    (default: build engine test sanitize)
#   scripts/gpu_check.sh all         build, model, engine, e2e, test, bench and sanitize
#                                    (most wanted first), each
#                                    step's outcome, time and output into one Markdown
#                                    report: $OUT/gpu-report.md under the device tool,
#                                    else $BUILD_DIR/gpu-report.md. Never stops early:
#                                    a failed step is reported and the next one runs;
#                                    each step has a time cap and all of them together
#                                    GPU_CHECK_BUDGET_S (default 500 s), so the report
#                                    is written inside the device tool's 10 minutes.
#   BUILD_DIR=build-gpu CUDA_ARCH=90    (environment, the defaults shown)
#   GTEST_FILTER=...                    (optional, for test and sanitize)
#
# build compiles only what the steps need (the GPU machine's time is
# scarce): the gpu tests, the CUDA plugin, gpu_attention_benchmark and
# decode_benchmark; build-all compiles everything of the
# -DINFERD_BUILD_SERVER=OFF configuration. model writes the random-weight
# 1.24B Llama (../shared/scripts/make_llama1b_random.py, Llama 3 vocab) into
# $BUILD_DIR/llama1b-random; engine runs gpu_engine_test (with the model as
# INFERD_GPU_LLAMA1B) and gpu_backend_test, test the other gpu tests (the
# ops), and e2e measures its decode (loadtest/gpu_e2e_benchmark.sh:
# batch 1 against the weight-bytes roofline, batch 64 against HF transformers
# with a static cache). bench runs loadtest/gpu_benchmarks.sh (attention).
# Steps can run in separate calls: the build directory stays between them.
#
# The GPU machine has no Debian -dev packages. Pack them here, on the
# development machine, into .sysroot/ (git-ignored) and carry it along:
#   ../shared/scripts/device-sysroot.sh .sysroot libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
# then, with the device tool: run(command="scripts/gpu_check.sh all", carry=[".sysroot"]).
# This script puts .sysroot on CMAKE_PREFIX_PATH, CPATH, LIBRARY_PATH and
# LD_LIBRARY_PATH when it is present.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-gpu}
arch=${CUDA_ARCH:-90}
steps=("$@")
if ((${#steps[@]} == 0)); then steps=(build engine test sanitize); fi

if [ -d .sysroot/root/usr ]; then
  root=$PWD/.sysroot/root/usr
  export CMAKE_PREFIX_PATH=$root${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export CPATH=$root/include${CPATH:+:$CPATH}
  export LIBRARY_PATH=$root/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=$root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if [ -d /usr/local/cuda/bin ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
jobs=$(nproc)
gpu_targets=(gpu_kernels_test gpu_device_info_test gpu_backend_test gpu_engine_test
  inferd_backend_cuda gpu_attention_benchmark decode_benchmark)
llama1b=$build/llama1b-random

configure() {
  nvidia-smi -L || echo "gpu_check: nvidia-smi failed (no GPU?)"
  # INFERD_WERROR=OFF: that machine's compiler is not Debian's g++ 12 (warnings
  # are enforced where CI builds; here the point is to run the tests).
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DINFERD_BUILD_SERVER=OFF \
    -DINFERD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DINFERD_WERROR=OFF
}

# `all`: every step in a subshell under its time cap, its output kept and
# its section appended to the report as soon as it ends (a report cut short
# still holds what ran), then the summary table.
if [ "${1:-}" = "all" ]; then
  mkdir -p "$build"
  report=${OUT:+$OUT/gpu-report.md}
  report=${report:-$build/gpu-report.md}
  mkdir -p "$(dirname "$report")"
  logs=$(mktemp -d)
  budget=${GPU_CHECK_BUDGET_S:-500}
  all_start=$SECONDS
  {
    echo "# inferd GPU check"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
    echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
    echo "- time budget: ${budget} s for all steps"
  } > "$report"
  rows=()
  # step:cap-seconds, in order of value (the sanitizer last: slowest).
  for spec in build:300 model:60 engine:150 e2e:120 test:180 bench:90 sanitize:150; do
    step=${spec%%:*}
    cap=${spec#*:}
    left=$((budget - (SECONDS - all_start)))
    if ((cap > left)); then cap=$left; fi
    start=$SECONDS
    if ((cap < 10)); then
      result="not run: the ${budget} s budget is spent"
      echo "$result" > "$logs/$step.txt"
    else
      rc=0
      timeout --kill-after=10 "$cap" "$0" "$step" > "$logs/$step.txt" 2>&1 || rc=$?
      case $rc in
        0) result=pass ;;
        124 | 137) result="FAIL (stopped at its ${cap} s cap)" ;;
        *) result="FAIL (exit $rc)" ;;
      esac
    fi
    rows+=("| $step | $result | $((SECONDS - start)) |")
    echo "gpu_check all: $step: $result ($((SECONDS - start)) s)"
    {
      echo
      echo "## $step: $result"
      echo
      case $step in
        engine | test)
          echo "Failed or skipped tests, and each whole-model and engine line:"
          echo
          echo '```'
          grep -E "FAILED|Failed|SKIPPED|tests passed|tests failed|max \|cuda - cpu\||^golden |^concurrent |^memory |^engine: " \
            "$logs/$step.txt" | head -200 || true
          echo '```'
          echo
          ;;
        e2e)
          echo "End-to-end decode, each number beside its peer:"
          echo
          grep -E "^\|" "$logs/$step.txt" || echo "(no table: see the output below)"
          echo
          ;;
        bench)
          echo "Attention kernels beside their peers:"
          echo
          echo '```'
          sed -n '/^prefill attention/,$p' "$logs/$step.txt" | head -40 || true
          echo '```'
          echo
          ;;
      esac
      echo "Last 60 lines of its output:"
      echo
      echo '```'
      tail -60 "$logs/$step.txt"
      echo '```'
    } >> "$report"
  done
  {
    echo
    echo "## Summary"
    echo
    echo "| step | result | seconds |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } >> "$report"
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
    model)
      if [ -f "$llama1b/model.safetensors" ]; then
        echo "gpu_check: $llama1b already written"
      else
        py=python3
        if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
          py=/usr/bin/python3
        fi
        "$py" ../shared/scripts/make_llama1b_random.py "$llama1b"
      fi
      ;;
    engine)
      # The whole engine on cuda, alone (its memory check reads the device's
      # free memory, which a test running beside it would change), then whole
      # models' CUDA logits against the CPU's. Both run; either failing fails.
      if [ -f "$llama1b/model.safetensors" ]; then export INFERD_GPU_LLAMA1B=$PWD/$llama1b; fi
      rc=0
      "$build"/tests/gpu_engine_test || rc=1
      "$build"/tests/gpu_backend_test || rc=1
      if ((rc != 0)); then exit 1; fi
      ;;
    test)
      if [ -n "${GTEST_FILTER:-}" ]; then
        "$build"/tests/gpu_kernels_test "${filter_args[@]}"
      else
        # Every other gpu test (the ops against their CPU references); the
        # engine step runs the whole-model ones (gtest names, not targets).
        ctest --test-dir "$build" -L gpu -E "CudaEngineTest|CudaBackendTest" --output-on-failure -j 4
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
    e2e)
      loadtest/gpu_e2e_benchmark.sh "$build" "$llama1b"
      ;;
    bench)
      loadtest/gpu_benchmarks.sh "$build"
      ;;
    *)
      echo "usage: $0 [build|build-all|model|engine|e2e|test|bench|sanitize]... | all" >&2
      exit 2
      ;;
  esac
done
echo "gpu_check: ${steps[*]}: done"
