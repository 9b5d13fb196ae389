#!/usr/bin/env bash
# loadtest/scheduler_benchmarks.sh — the scheduler benchmarks of
# docs/benchmarks.md, end to end over gRPC on 127.0.0.1: a real
# `inferd serve` per configuration, driven by `inferload`.
#
#   loadtest/scheduler_benchmarks.sh [prefix|chunked|sweep|all] [OUT_DIR]
#
#   prefix   shared-prefix workload (tiny-llama): TTFT with prefix caching on vs off
#   chunked  long prompts + short decodes (tiny-llama): ITL of the short streams
#            with chunked prefill on vs off
#   sweep    Poisson load sweep on the default model (stories260K) from 0.5x to
#            1.5x of the measured saturation throughput
#
# Every run is bounded (--num-requests, --max-duration) and every server is
# stopped at the end. JSON results land in OUT_DIR (default
# build/scheduler-benchmarks); a summary table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
out="${2:-build/scheduler-benchmarks}"
shared="${INFERD_SHARED_DIR:-../shared}"
inferd=build/inferd
inferload=build/inferload
mkdir -p "$out"
[[ -x $inferd && -x $inferload ]] || { echo "build inferd and inferload first (scripts/setup.sh)" >&2; exit 1; }

server_pid=""
server_addr=""
stop_server() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# start_server LOG ARGS...: starts inferd on a free port and waits for it.
start_server() {
  local log=$1
  shift
  "$inferd" serve --port 0 "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    server_addr=$(sed -n 's/^inferd: serving .* on \(.*\)$/\1/p' "$log" | head -1)
    [[ -n $server_addr ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "inferd did not start" >&2
  exit 1
}

# load NAME ARGS...: one inferload run against the current server.
load() {
  local name=$1
  shift
  "$inferload" --addr "$server_addr" --no-progress --json-out "$out/$name.json" "$@" \
    >"$out/$name.txt"
}

summary() {  # summary NAME...: one table row per run
  python3 - "$out" "$@" <<'PY'
import json, sys
out = sys.argv[1]
print(f"{'run':34} {'done':>5} {'err':>4} {'req/s':>7} {'tok/s':>8} {'ttft p50':>9} {'ttft p99':>9} "
      f"{'itl p50':>8} {'itl p99':>8} {'cached':>7}")
for name in sys.argv[2:]:
    r = json.load(open(f"{out}/{name}.json"))
    ms = lambda k, p: f"{1000 * r[k][p]:.1f}ms"
    err = sum(r["errors"].values())
    cached = r.get("cached_tokens", {})
    cached = cached.get("mean", cached) if isinstance(cached, dict) else cached
    print(f"{name:34} {r['completed']:>5} {err:>4} {r['request_throughput']:>7.2f} "
          f"{r['output_token_throughput']:>8.1f} {ms('ttft','p50'):>9} {ms('ttft','p99'):>9} "
          f"{ms('itl','p50'):>8} {ms('itl','p99'):>8} {str(round(cached, 1)) if cached != {} else '-':>7}")
PY
}

if [[ $which == prefix || $which == all ]]; then
  # 4 system prompts of 2048 tokens, 32-token user suffixes, 16-token answers,
  # at 1 req/s (both configurations keep up) and 4 req/s (only one does).
  for mode in on off; do
    flags=()
    [[ $mode == off ]] && flags+=(--no-prefix-caching)
    start_server "$out/prefix-$mode.log" --model "$shared/models/tiny-llama" \
      --kv-cache-memory 1GiB "${flags[@]}"
    for rate in 1 4; do
      load "prefix-caching-$mode-${rate}rps" --workload shared-prefix --num-prefixes 4 \
        --prefix-len 2048 --suffix-len 32 --output-len 16 --request-rate "$rate" \
        --num-requests $((30 * rate)) --seed 1 --max-duration 300
    done
    stop_server
  done
  summary prefix-caching-on-1rps prefix-caching-off-1rps prefix-caching-on-4rps \
    prefix-caching-off-4rps
fi

if [[ $which == chunked || $which == all ]]; then
  # 8 short streams (32-token prompts, 256 tokens out) in a closed loop while
  # 3000-token prompts arrive at 1/s. On: 256-token steps; off: whole prompts.
  for mode in on off; do
    if [[ $mode == on ]]; then
      flags=(--max-num-batched-tokens 256)
    else
      flags=(--no-chunked-prefill --max-num-batched-tokens 4096)
    fi
    start_server "$out/chunked-$mode.log" --model "$shared/models/tiny-llama" \
      --kv-cache-memory 1GiB "${flags[@]}"
    load "long-prompts-chunked-$mode" --input-len 3000 --input-len-range 0 --output-len 4 \
      --output-len-range 0 --request-rate 1 --num-requests 20 --seed 2 --max-duration 300 &
    long_pid=$!
    load "short-streams-chunked-$mode" --input-len 32 --output-len 256 --output-len-range 0 \
      --concurrency 8 --num-requests 48 --seed 3 --max-duration 300
    wait "$long_pid"
    stop_server
  done
  summary short-streams-chunked-on short-streams-chunked-off long-prompts-chunked-on \
    long-prompts-chunked-off
fi

if [[ $which == sweep || $which == all ]]; then
  # Saturation: a closed loop at the engine's batch cap (--max-num-seqs 64).
  # Every run has its own seed: repeated prompts would hit the prefix cache.
  start_server "$out/sweep.log"
  load sweep-saturation --concurrency 64 --num-requests 640 --seed 4 --max-duration 300
  sat=$(python3 -c "import json; print(json.load(open('$out/sweep-saturation.json'))['request_throughput'])")
  runs=(sweep-saturation)
  seed=10
  for x in 0.5 0.75 1.0 1.25 1.5; do
    rate=$(python3 -c "print(round($sat * $x, 2))")
    n=$(python3 -c "print(max(50, int($sat * $x * 20)))")  # about 20 s of arrivals
    seed=$((seed + 1))
    load "sweep-${x}x" --request-rate "$rate" --num-requests "$n" --seed "$seed" \
      --max-duration 300
    runs+=("sweep-${x}x")
  done
  stop_server
  echo "saturation: $sat req/s"
  summary "${runs[@]}"
fi
