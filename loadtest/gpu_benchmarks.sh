#!/usr/bin/env bash
# loadtest/gpu_benchmarks.sh — the GPU attention benchmarks and their peers,
# run back to back on one machine, with the ratios side by side:
#   * prefill: inferd's FlashAttention-2 kernel vs torch SDPA with the
#     FLASH_ATTENTION and CUDNN_ATTENTION backends (TFLOP/s, same shapes);
#   * decode: inferd's split-KV kernel vs the measured device-to-device copy
#     bandwidth (target >= 85% at batch 64).
#
#   loadtest/gpu_benchmarks.sh [BUILD_DIR] [--repeats N]   (BUILD_DIR default build-gpu)
#
# Needs a GPU, the gpu_attention_benchmark binary (scripts/gpu_check.sh builds
# it) and python3 with torch (the GPU machine's image has both).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
shift || true
repeats=20
if [ "${1:-}" = "--repeats" ]; then repeats=$2; fi
logs=$(mktemp -d)
"$build/gpu_attention_benchmark" --repeats "$repeats" | tee "$logs/inferd.txt"
echo
PYTHONUNBUFFERED=1 python3 loadtest/gpu_attention_peer.py --repeats "$repeats" | tee "$logs/peer.txt"
echo
python3 - "$logs/inferd.txt" "$logs/peer.txt" <<'PY'
import sys

def results(path):
    rows = []
    for line in open(path):
        if line.startswith("RESULT "):
            parts = line.split()
            rows.append((parts[1], dict(kv.split("=", 1) for kv in parts[2:])))
    return rows

ours, peer = results(sys.argv[1]), results(sys.argv[2])
peer_tf = {(r["backend"], int(r["seq"])): float(r["tflops"])
           for name, r in peer if name == "peer" and "tflops" in r}
print("prefill attention (bf16, d 128, causal, 16k tokens per batch), TFLOP/s")
print(f"{'S':>6} {'inferd':>8} {'torch flash':>12} {'ratio':>7} {'torch cudnn':>12} {'ratio':>7}")
for name, r in ours:
    if name != "prefill":
        continue
    s, tf = int(r["seq"]), float(r["tflops"])
    cells = []
    for backend in ("flash", "cudnn"):
        p = peer_tf.get((backend, s))
        cells += [f"{p:12.1f}" if p else f"{'n/a':>12}", f"{tf / p:7.2f}" if p else f"{'n/a':>7}"]
    print(f"{s:>6} {tf:8.1f} " + " ".join(cells))
copy = next((float(r["gbs"]) for name, r in ours if name == "copy"), None)
print(f"\npaged decode attention (bf16, GQA 4, d 128, context 4096) vs copy {copy:.0f} GB/s")
print(f"{'batch':>6} {'GB/s':>8} {'of copy':>8}  target")
for name, r in ours:
    if name == "decode":
        frac = float(r["copy_fraction"])
        target = ">= 85%: " + ("met" if frac >= 0.85 else "NOT met") if r["batch"] == "64" else "-"
        print(f"{r['batch']:>6} {float(r['gbs']):8.0f} {100 * frac:7.1f}%  {target}")
PY
