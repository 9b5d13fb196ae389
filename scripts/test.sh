#!/usr/bin/env bash
# scripts/test.sh — the whole suite: format check, build, then every test
# through CTest. Extra arguments go to ctest (e.g. -L unit, -R scheduler).
# Tests that need ../shared (models, goldens) skip with a message when it is
# absent; set INFERD_SHARED_DIR to point elsewhere.
#
#   scripts/test.sh [CTEST_ARGS...]                      build/: every test
#   scripts/test.sh --sanitize=address [CTEST_ARGS...]   build-asan/ (preset asan):
#       ASan + UBSan over the unit, golden and integration labels
#   scripts/test.sh --sanitize=thread [CTEST_ARGS...]    build-tsan/ (preset tsan):
#       TSan over the concurrency tests (tsan_unit_tests below); with
#       INFERD_TSAN_INTEGRATION=1 also every integration test, which reports
#       orderings inside Debian's uninstrumented gRPC that TSan cannot see
#       (tests/sanitizers/README.md), so it is not part of CI
#
# A sanitizer pass fails on a failing test and on any sanitizer report, from a
# test binary or from a daemon a test started: reports go to
# <build dir>/sanitizer-reports/ and are printed. Runtime options are set
# below, suppressions are in tests/sanitizers/ (README.md there). Tests
# labelled `slow` are left out of the sanitizer passes. Tests see
# INFERD_SANITIZE=address|thread in their environment.
#
# In CI (CI=true, as .ci/run sees it) and with no arguments, the whole suite
# is followed by the ASan+UBSan pass, the TSan pass and the `fuzz` label
# (scripts/fuzz.sh, INFERD_CI_FUZZ_SECONDS per target, default 20), each
# timed. INFERD_CI_EXTRA=1 does the same outside CI. They share a budget:
# INFERD_CI_BUDGET_S (default 5100 s, 85 of CI's 90 minutes) counted from the
# start of scripts/setup.sh (build/.setup-started) when that was within the
# budget, else from this script's start. A phase still running when the
# budget ends is stopped and reported as cut, which does not fail the run;
# a failing test or any sanitizer report does. Measured on 2 cores from a
# fresh clone (2026-11-23): main suite 3 min, ASan+UBSan 15 (10 of them
# compiling, cold), TSan 4, fuzz 4; 27 minutes end to end with the main
# build in ccache, about 40 with nothing cached.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# Unit tests that run threads: the engine's step loop with its inbox and
# output channels (EngineTest, OutputChannelTest, EngineObserverTest), the
# scheduler that loop drives, the kernels' thread pool and every kernel's
# thread-count invariance test, tokenizers shared across threads, the
# server's watchdog and log writers. Their targets, and their suites (ctest -R).
tsan_unit_targets=(
  engine_test engine_scheduler_test engine_output_channel_test engine_observer_test
  kernels_cpu_test tokenizer_scale_test server_engine_watchdog_test server_log_test
)
tsan_unit_tests='^(EngineTest|EngineExpertLoadTest|SchedulerTest|OutputChannelTest|EngineObserverTest|KernelsThreadPool|Tokenizers/TokenizerScaleTest|TokenizerRobustnessTest|EngineWatchdogTest|StallDetectorTest|LogTest|RequestLogTest)\.|\.ThreadCountInvariantBitForBit$|^ChatTemplateTest\.RendersFromManyThreadsAtOnce$'

# Runtime options for every process of a pass (daemons inherit them).
# log_path: a report lands in a file even when the test that started the
# process never looks at its stderr or exit code.
export_sanitizer_options() {
  local kind=$1 reports=$2 supp=$PWD/tests/sanitizers
  export INFERD_SANITIZE=$kind
  if [ "$kind" = address ]; then
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_string_checks=1:log_path=$reports/asan"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
  else
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp:print_suppressions=0:log_path=$reports/tsan"
  fi
}

# sanitize_pass address|thread [CTEST_ARGS...]. Called from a `||` list
# (where set -e does not apply), so every step checks its own status.
sanitize_pass() {
  local kind=$1
  shift
  local preset
  case "$kind" in
    address) preset=asan ;;
    thread) preset=tsan ;;
    *)
      echo "test.sh: --sanitize takes address or thread, not '$kind'" >&2
      return 2
      ;;
  esac
  local dir=build-$preset
  # Always through the preset, so a build directory made before a preset
  # changed gets its flags.
  cmake --preset "$preset" >/dev/null || return 1
  if [ "$kind" = address ]; then
    cmake --build "$dir" -j "$jobs" || return 1
  else
    # Only what the pass runs: the unit targets above and, on demand, every
    # integration test and what they start (the daemon, inferctl, inferload,
    # Python stubs).
    local targets=("${tsan_unit_targets[@]}")
    if [ "${INFERD_TSAN_INTEGRATION:-}" = 1 ]; then
      mapfile -t -O "${#targets[@]}" targets < <(cmake --build "$dir" --target help |
        sed -n 's/^\(integration_[a-z0-9_]*\): .*/\1/p')
      targets+=(inferd inferctl inferload inferd_python_stubs)
    fi
    cmake --build "$dir" -j "$jobs" --target "${targets[@]}" || return 1
  fi

  local reports=$PWD/$dir/sanitizer-reports rc=0
  rm -rf "$reports" && mkdir -p "$reports" || return 1
  local ctest_args=(--test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" -LE slow)
  if [ "$kind" = address ]; then
    run_sanitized "$kind" "$reports" "${ctest_args[@]}" -L 'unit|golden|integration' "$@" || rc=1
  else
    run_sanitized "$kind" "$reports" "${ctest_args[@]}" -L unit -R "$tsan_unit_tests" "$@" || rc=1
    if [ "${INFERD_TSAN_INTEGRATION:-}" = 1 ]; then
      run_sanitized "$kind" "$reports" "${ctest_args[@]}" -L integration "$@" || rc=1
    fi
  fi
  if compgen -G "$reports/*" >/dev/null; then
    echo "test.sh: the $kind sanitizer reported (files in $reports):" >&2
    for f in "$reports"/*; do
      echo "==== $f" >&2
      head -n 100 "$f" >&2
    done
    rc=1
  fi
  if [ "$rc" -eq 0 ]; then echo "test.sh: $kind sanitizer pass: no report"; fi
  return "$rc"
}

# run_sanitized KIND REPORT_DIR CTEST_ARGS...: ctest with the options set.
run_sanitized() {
  local kind=$1 reports=$2
  shift 2
  (export_sanitizer_options "$kind" "$reports" && ctest "$@")
}

# libFuzzer's final stats of the last fuzz run: executions per target.
print_fuzz_stats() {
  local log=build-fuzz/Testing/Temporary/LastTest.log
  [ -f "$log" ] || return 0
  awk '/^[0-9]+\/[0-9]+ Test: fuzz_/ { name = $3 }
       /stat::number_of_executed_units:/ { printf "test.sh: %s: %s executions\n", name, $2 }' "$log"
}

sanitize=""
if [[ "${1:-}" == --sanitize=* ]]; then
  sanitize=${1#--sanitize=}
  shift
fi

scripts/check-format.sh
if [ -n "$sanitize" ]; then
  sanitize_pass "$sanitize" "$@"
  exit
fi

script_start=$(date +%s)
phase_start=$SECONDS
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" "$@"
if (($# > 0)) || { [ "${CI:-}" != true ] && [ "${INFERD_CI_EXTRA:-}" != 1 ]; }; then exit 0; fi

# CI: the sanitizer passes and the fuzzers, each timed, within the budget.
# Every phase runs while budget is left; the script fails if any failed.
echo "test.sh: phase main suite: $((SECONDS - phase_start)) s"
budget=${INFERD_CI_BUDGET_S:-5100}
start=$script_start
if [ -f build/.setup-started ]; then
  setup_start=$(cat build/.setup-started)
  if ((script_start - setup_start < budget)); then start=$setup_start; fi
fi
failed=() cut=()
for phase in address thread fuzz; do
  left=$((start + budget - $(date +%s)))
  if ((left < 60)); then
    cut+=("$phase")
    echo "test.sh: phase $phase: not started, the CI budget is spent" >&2
    continue
  fi
  phase_start=$SECONDS
  rc=0
  if [ "$phase" = fuzz ]; then
    timeout -k 30 "$left" scripts/fuzz.sh "${INFERD_CI_FUZZ_SECONDS:-20}" || rc=$?
    print_fuzz_stats
  else
    timeout -k 30 "$left" scripts/test.sh --sanitize="$phase" || rc=$?
  fi
  if ((rc == 124 || rc == 137)); then
    cut+=("$phase")
    echo "test.sh: phase $phase: cut at the CI budget after $((SECONDS - phase_start)) s" >&2
  elif ((rc != 0)); then
    failed+=("$phase")
  fi
  echo "test.sh: phase $phase: $((SECONDS - phase_start)) s"
done
if ((${#cut[@]})); then
  echo "test.sh: cut at the CI budget (INFERD_CI_BUDGET_S=$budget): ${cut[*]}" >&2
fi
if ((${#failed[@]})); then
  echo "test.sh: failed: ${failed[*]}" >&2
  exit 1
fi
