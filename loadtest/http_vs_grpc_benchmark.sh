#!/usr/bin/env bash
# loadtest/http_vs_grpc_benchmark.sh — the OpenAI HTTP API against gRPC on
# the same daemon (docs/benchmarks.md, "HTTP vs gRPC"): one `inferd serve`
# with both ports on 127.0.0.1, driven by `inferload` with the same flags
# and seed (so the same prompts, lengths and arrivals) over each protocol,
# runs interleaved grpc, openai, grpc, openai, ... so a machine whose load
# drifts shows in both alike; a summary table of every run, then the medians.
#
#   loadtest/http_vs_grpc_benchmark.sh [ROUNDS] [OUT_DIR]
#
# ROUNDS (default 2) pairs of runs; OUT_DIR default
# build/http-vs-grpc-benchmark. Environment: MODEL (default
# ../shared/models/tiny-llama), CONCURRENCY (64), NUM_REQUESTS (256),
# INPUT_LEN (256), OUTPUT_LEN (128), SERVE_ARGS (extra inferd serve flags).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"
out="${2:-build/http-vs-grpc-benchmark}"
shared="${INFERD_SHARED_DIR:-../shared}"
model="${MODEL:-$shared/models/tiny-llama}"
concurrency="${CONCURRENCY:-64}"
num_requests="${NUM_REQUESTS:-256}"
input_len="${INPUT_LEN:-256}"
output_len="${OUTPUT_LEN:-128}"
inferd=build/inferd
inferload=build/inferload
mkdir -p "$out"
[[ -x $inferd && -x $inferload ]] || { echo "build inferd and inferload first" >&2; exit 1; }
[[ -d $model ]] || { echo "no model at $model" >&2; exit 1; }

server_pid=""
stop_server() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

log="$out/inferd.log"
# shellcheck disable=SC2086
"$inferd" serve --model "$model" --host 127.0.0.1 --port 0 --http-port 0 --metrics-port -1 \
  ${SERVE_ARGS:-} >"$log" 2>&1 &
server_pid=$!
grpc_addr=""
http_addr=""
for _ in $(seq 1 1200); do
  http_addr=$(sed -n 's/^inferd: http on \(.*\)$/\1/p' "$log" | head -1)
  grpc_addr=$(sed -n 's/^inferd: serving .* on \(.*\)$/\1/p' "$log" | head -1)
  [[ -n $grpc_addr && -n $http_addr ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $grpc_addr && -n $http_addr ]] || { echo "inferd did not start" >&2; exit 1; }
echo "inferd $(git rev-parse --short HEAD 2>/dev/null || echo '?'): gRPC $grpc_addr, HTTP $http_addr, $model"

common=(--addr "$grpc_addr" --no-progress --concurrency "$concurrency" --num-requests "$num_requests"
        --input-len "$input_len" --output-len "$output_len" --seed 1)
# A short warm-up over each protocol (first connections, caches).
"$inferload" "${common[@]}" --num-requests "$concurrency" >/dev/null
"$inferload" "${common[@]}" --num-requests "$concurrency" --protocol openai --http-addr "$http_addr" >/dev/null

for round in $(seq 1 "$rounds"); do
  for protocol in grpc openai; do
    extra=()
    [[ $protocol == openai ]] && extra=(--protocol openai --http-addr "$http_addr")
    echo "+ inferload ${common[*]} ${extra[*]}" >"$out/$protocol-$round.txt"
    "$inferload" "${common[@]}" "${extra[@]}" --json-out "$out/$protocol-$round.json" \
      >>"$out/$protocol-$round.txt"
  done
done

python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = {"grpc": [], "openai": []}
print("%-8s %5s %10s %10s %10s %10s %10s %6s" % ("protocol", "run", "out tok/s", "req/s",
                                                "TTFT p50", "TTFT p99", "ITL p50", "errors"))
for r in range(1, rounds + 1):
    for p in ("grpc", "openai"):
        j = json.load(open("%s/%s-%d.json" % (out, p, r)))
        rows[p].append(j)
        print("%-8s %5d %10.1f %10.2f %8.2f ms %8.2f ms %8.2f ms %6d" % (
            p, r, j["output_token_throughput"], j["request_throughput"], j["ttft"]["p50"] * 1e3,
            j["ttft"]["p99"] * 1e3, j["itl"]["p50"] * 1e3, sum(j["errors"].values())))
med = {p: (statistics.median(j["output_token_throughput"] for j in rows[p]),
           statistics.median(j["ttft"]["p50"] for j in rows[p]) * 1e3) for p in rows}
print("median: grpc %.1f tok/s, TTFT p50 %.2f ms; openai %.1f tok/s, TTFT p50 %.2f ms" %
      (med["grpc"][0], med["grpc"][1], med["openai"][0], med["openai"][1]))
# Each round's openai run against the grpc run just before it (the closest in
# time, so the least touched by the machine's drift).
ratios = [o["output_token_throughput"] / g["output_token_throughput"]
          for g, o in zip(rows["grpc"], rows["openai"])]
deltas = [(o["ttft"]["p50"] - g["ttft"]["p50"]) * 1e3 for g, o in zip(rows["grpc"], rows["openai"])]
print("per round openai / grpc throughput: %s; TTFT p50 openai - grpc: %s ms" %
      (" ".join("%.3f" % r for r in ratios), " ".join("%+.2f" % d for d in deltas)))
print("median of the rounds: throughput ratio %.3f, TTFT p50 delta %+.2f ms" %
      (statistics.median(ratios), statistics.median(deltas)))
EOF
