#!/usr/bin/env bash
# loadtest/gpu_e2e_benchmark.sh — end-to-end decode of a real-size model on
# the GPU, each number beside its peer from the same run:
#   * batch 1: inferd's decode rate (decode_benchmark --device cuda) against
#     the weight-bytes roofline = measured device-to-device copy bandwidth
#     (gpu_attention_benchmark's copy) / weight bytes (every decoded token
#     reads every weight once); target >= 80%;
#   * batch 64: inferd's aggregate against HF transformers generate() with a
#     static cache on the same checkpoint (loadtest/gpu_hf_decode_peer.py);
#     target >= 2x. HF's batch 1 is reported beside inferd's too.
#
#   loadtest/gpu_e2e_benchmark.sh BUILD_DIR MODEL_DIR [MAX_TOKENS]
#
# Prints the raw outputs, then a Markdown table. Needs decode_benchmark and
# gpu_attention_benchmark built with CUDA (scripts/gpu_check.sh build), the
# CUDA plugin beside them, and python3 with torch and transformers for the
# peer (without them its rows say why they are missing). Every part runs
# even when an earlier one fails; the exit status is the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: $0 BUILD_DIR MODEL_DIR [MAX_TOKENS]}
model=${2:?usage: $0 BUILD_DIR MODEL_DIR [MAX_TOKENS]}
max_tokens=${3:-128}
logs=$(mktemp -d)
status=0

echo "== copy bandwidth (gpu_attention_benchmark, copy only)"
"$build/gpu_attention_benchmark" --repeats 10 --skip-prefill --skip-decode 2>&1 |
  tee "$logs/copy.txt" || status=1
echo
echo "== inferd decode_benchmark --device cuda (bf16, batch 1 and 64 streams)"
"$build/decode_benchmark" --model "$model" --device cuda --gpu-memory-utilization 0.8 \
  --streams 64 --max-tokens "$max_tokens" --repeats 3 --max-model-len 4096 2>&1 |
  tee "$logs/inferd.txt" || status=1
echo
echo "== HF transformers generate, static cache (peer)"
PYTHONUNBUFFERED=1 python3 loadtest/gpu_hf_decode_peer.py "$model" --batches 1,64 \
  --max-tokens "$max_tokens" --repeats 3 2>&1 | tail -40 | tee "$logs/hf.txt" || status=1
echo
python3 - "$logs" <<'PY' || status=1
import re, sys, os
logs = sys.argv[1]
def read(name):
    p = os.path.join(logs, name)
    return open(p).read() if os.path.exists(p) else ""
copy = re.search(r"RESULT copy gbs=([\d.]+)", read("copy.txt"))
inferd = read("inferd.txt")
weights = re.search(r"weights \S+ \(checkpoint \S+\), ([\d.]+) GB", inferd)
b1 = re.search(r"batch 1 decode\s+([\d.]+) tokens/s", inferd)
bn = re.search(r"aggregate, (\d+) streams\s+([\d.]+) tokens/s", inferd)
hf = {int(m.group(1)): float(m.group(2))
      for m in re.finditer(r"RESULT hf batch=(\d+) tokens=\d+ tps=([\d.]+)", read("hf.txt"))}
hf_skip = re.search(r"SKIP hf peer: (.*)", read("hf.txt"))
def f(x, fmt="{:.1f}"):
    return fmt.format(x) if x is not None else "n/a"
copy_gbs = float(copy.group(1)) if copy else None
wgb = float(weights.group(1)) if weights else None
roof = copy_gbs / wgb if copy_gbs and wgb else None
ib1 = float(b1.group(1)) if b1 else None
ibn = float(bn.group(2)) if bn else None
print("| measure | inferd | peer | peer is | ratio | target |")
print("|---|---|---|---|---|---|")
r1 = ib1 / roof if ib1 and roof else None
print(f"| decode tok/s, batch 1 | {f(ib1)} | {f(roof)} | roofline: copy {f(copy_gbs, '{:.0f}')} GB/s / "
      f"{f(wgb, '{:.3f}')} GB of weights | {f(r1, '{:.2f}')} | >= 0.80: "
      f"{'met' if r1 and r1 >= 0.8 else 'NOT met' if r1 else 'n/a'} |")
why = f" ({hf_skip.group(1)})" if hf_skip else ""
h1 = hf.get(1)
print(f"| decode tok/s, batch 1 | {f(ib1)} | {f(h1)} | HF generate, static cache{why} | "
      f"{f(ib1 / h1 if ib1 and h1 else None, '{:.2f}')} | - |")
h64 = hf.get(64)
rn = ibn / h64 if ibn and h64 else None
print(f"| aggregate tok/s, batch 64 | {f(ibn)} | {f(h64)} | HF generate, static cache{why} | "
      f"{f(rn, '{:.2f}')} | >= 2x: {'met' if rn and rn >= 2 else 'NOT met' if rn else 'n/a'} |")
if not (ib1 and ibn):
    sys.exit(1)
PY
exit $status
