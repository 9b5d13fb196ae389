#!/usr/bin/env bash
# loadtest/cpu_peer_benchmark.sh — inferd's CPU decode beside llama.cpp's, in
# one run on one machine (these machines are shared and noisy: compare the
# ratios from one run, not numbers across runs), plus the memory read
# bandwidth that bounds both.
#
#   loadtest/cpu_peer_benchmark.sh --model HF_DIR --gguf FILE.gguf
#       [--peer /work/peer/llamacpp/build/bin] [--threads 2] [--streams 16]
#       [--tokens 64] [--dtype bf16] [--kv-cache-dtype bf16]
#       [--quantization int8|q4] [--quantize-lm-head] [--cpu-isa auto|avx2|avx-vnni|avx512]
#       [--build DIR] [--out DIR]
#   loadtest/cpu_peer_benchmark.sh --report-only DIR   # the table again, from a kept --out DIR
#
# HF_DIR and FILE.gguf are the same model (the GGUF made from HF_DIR by
# llama.cpp's converter, in the dtype you mean to compare, e.g. bf16). For
# quantized weights give inferd the peer's own file: --model FILE.gguf (Q8_0
# or Q4_0 from llama-quantize) with --quantization int8|q4 and
# --quantize-lm-head (llama.cpp reads a tied embedding as stored, quantized,
# for its output layer); the weight bytes per token are then the GGUF's
# tensor bytes. The peer
# is llama.cpp built from source (shared/scripts/llamacpp-peer.sh build; its
# convert makes the GGUF). Runs, in order, printing each command first:
#   1. build/memory_bandwidth --threads T
#   2. build/decode_benchmark --model HF_DIR --threads T --streams S --max-tokens N --repeats 3
#      [--dtype D] [--kv-cache-dtype K] [--quantization Q] [--quantize-lm-head]
#      [--cpu-isa I] [--max-model-len 4096]   (the bracketed flags only when
#      --dtype / --kv-cache-dtype is given here, so the script also runs against a
#      decode_benchmark without them)
#   3. llama-bench -m GGUF -p 0 -n N -t T -r 3 -o json               (batch-1 decode)
#   4. llama-batched-bench -m GGUF -c 4096 -b 512 -ub 512 -npp 16 -ntg N -npl 1,S -t T
#                                                                    (S parallel sequences)
# then a table: batch-1 and S-stream aggregate decode tokens/s, inferd vs
# llama.cpp and the ratio; the memory read bandwidth; and inferd's achieved
# weight-read bandwidth at batch 1 = weight bytes read per token x tokens/s, as
# a % of the measured memory bandwidth. Weight bytes per token = the tensors in
# HF_DIR/*.safetensors (headers excluded), less the input embedding table when
# the model has a separate lm_head (only one row of it is read per token),
# scaled to --dtype's element size when --dtype is given (bf16/f16 = 2 bytes,
# f32 = 4); without --dtype the checkpoint's own dtypes are counted. Raw
# outputs are kept in --out DIR (default: a new temporary folder).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model="" gguf="" peer=/work/peer/llamacpp/build/bin threads=2 streams=16 tokens=64
dtype="" kv_dtype="" quant="" quant_lm_head="" cpu_isa="" build="$repo/build" out="" report_only=""
python=/usr/bin/python3
[[ -x $python ]] || python=python3

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
need() { [[ $# -ge 2 && -n $2 ]] || { echo "cpu_peer_benchmark: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) need "$@"; model=$2; shift 2 ;;
    --gguf) need "$@"; gguf=$2; shift 2 ;;
    --peer) need "$@"; peer=$2; shift 2 ;;
    --threads) need "$@"; threads=$2; shift 2 ;;
    --streams) need "$@"; streams=$2; shift 2 ;;
    --tokens) need "$@"; tokens=$2; shift 2 ;;
    --dtype) need "$@"; dtype=$2; shift 2 ;;
    --kv-cache-dtype) need "$@"; kv_dtype=$2; shift 2 ;;
    --quantization) need "$@"; quant=$2; shift 2 ;;
    --quantize-lm-head) quant_lm_head=1; shift ;;
    --cpu-isa) need "$@"; cpu_isa=$2; shift 2 ;;
    --build) need "$@"; build=$2; shift 2 ;;
    --out) need "$@"; out=$2; shift 2 ;;
    --report-only) need "$@"; report_only=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "cpu_peer_benchmark: unknown argument $1" >&2; usage ;;
  esac
done

# The table, from the raw outputs in $1 (and the settings saved beside them).
report() {
  local dir=$1
  "$python" - "$dir" <<'PY'
import glob, json, os, re, struct, sys

d = sys.argv[1]
cfg = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(d, "settings")) if "=" in l)
S = int(cfg["streams"])

def read(name):
    p = os.path.join(d, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""

def tokens_per_s(line):  # the number before "tokens/s"
    f = line.split()
    return float(f[f.index("tokens/s") - 1]) if "tokens/s" in f else None

# 1. memory_bandwidth: "memory read bandwidth: X.X GB/s (N threads, B bytes)"
m = re.search(r"memory read bandwidth:\s*([0-9.]+)\s*GB/s", read("memory_bandwidth.txt"))
bw = float(m.group(1)) if m else None

# 2. decode_benchmark: "batch 1 decode   X tokens/s", "aggregate, S streams   Y tokens/s (...)"
inf1 = infS = None
for line in read("decode_benchmark.txt").splitlines():
    if line.startswith("batch 1 decode"):
        inf1 = tokens_per_s(line)
    elif re.match(r"aggregate, *%d streams" % S, line):
        infS = tokens_per_s(line)

# 3. llama-bench -o json: a list of tests; the decode one has n_prompt 0, n_gen N.
lc1 = None
txt = read("llama_bench.txt")
try:
    tests = json.loads(txt[txt.index("["):txt.rindex("]") + 1])
    for t in tests:
        if t.get("n_prompt") == 0 and t.get("n_gen", 0) > 0:
            lc1 = float(t["avg_ts"])
except ValueError:  # not JSON: llama-bench's markdown table (-o md), the "tgN" row's t/s
    for line in txt.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and re.fullmatch(r"tg[0-9]+", cells[-2]):
            lc1 = float(cells[-1].split()[0])

# 4. llama-batched-bench: a markdown table; the S_TG t/s column of the row with B == S
#    (and B == 1, shown as a cross-check of llama-bench).
lcS = lc_b1 = None
cols = None
for line in read("llama_batched_bench.txt").splitlines():
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if "S_TG t/s" in cells:
        cols = cells
    elif cols and len(cells) == len(cols) and cells[0] and not cells[0].startswith("-"):
        row = dict(zip(cols, cells))
        if int(row["B"]) == S:
            lcS = float(row["S_TG t/s"])
        if int(row["B"]) == 1:
            lc_b1 = float(row["S_TG t/s"])

# Weight bytes read per decoded token: a GGUF model's tensor bytes (every
# tensor read once per token; a tied embedding is the output layer), else the
# safetensors headers below.
GGML_BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 3: (32, 20),
              12: (256, 144), 13: (256, 176), 14: (256, 210), 10: (256, 84), 11: (256, 110)}
def gguf_tensor_bytes(path):
    with open(path, "rb") as f:
        def u(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]
        def string():
            return f.read(u("Q"))
        SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
        def value(t):
            if t == 8:
                string()
            elif t == 9:
                et, n = u("I"), u("Q")
                for _ in range(n):
                    value(et)
            else:
                u(SCALAR[t])
        if f.read(4) != b"GGUF":
            raise SystemExit("%s: not a GGUF file" % path)
        u("I")
        n_tensors, n_kv = u("Q"), u("Q")
        for _ in range(n_kv):
            string()
            value(u("I"))
        total = 0
        for _ in range(n_tensors):
            string()
            count = 1
            for _ in range(u("I")):
                count *= u("Q")
            t = u("I")
            u("Q")
            if t not in GGML_BLOCK:
                raise SystemExit("%s: ggml type %d not in the size table" % (path, t))
            elems, size = GGML_BLOCK[t]
            total += count // elems * size
        return total

ELEM = {"F64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2, "I16": 2, "I8": 1, "U8": 1, "I64": 8}
want = {"bf16": 2, "bfloat16": 2, "f16": 2, "fp16": 2, "float16": 2, "half": 2,
        "f32": 4, "fp32": 4, "float32": 4, "float": 4}.get(cfg.get("dtype", "").lower())
tensors = {}
gguf_model = cfg["model"].endswith(".gguf")
for path in [] if gguf_model else sorted(glob.glob(os.path.join(cfg["model"], "*.safetensors"))):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    for k, e in h.items():
        if k == "__metadata__":
            continue
        count = 1
        for s in e["shape"]:
            count *= s
        tensors[k] = (count, ELEM.get(e["dtype"], 0), e["data_offsets"][1] - e["data_offsets"][0])
embed = [k for k in tensors if k.endswith("embed_tokens.weight")]
untied = any(k.endswith("lm_head.weight") for k in tensors)
weight_bytes = 0
for k, (count, elem, stored) in tensors.items():
    if untied and k in embed:
        continue  # a gather: one row per token
    weight_bytes += count * want if want and elem in (2, 4) else stored
if gguf_model:
    weight_bytes = gguf_tensor_bytes(cfg["model"])

def num(x, fmt="%.1f"):
    return fmt % x if x is not None else "n/a"

def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "n/a"

T = cfg["threads"]
print()
print("== inferd vs llama.cpp, CPU decode, %s threads ==" % T)
print("model  %s" % cfg["model"])
print("gguf   %s" % cfg["gguf"])
print("inferd --dtype %s --kv-cache-dtype %s --quantization %s%s --cpu-isa %s; %s tokens per stream"
      % (cfg.get("dtype") or "(default)", cfg.get("kv_dtype") or "(default)",
         cfg.get("quant") or "none", " --quantize-lm-head" if cfg.get("quant_lm_head") else "",
         cfg.get("cpu_isa") or "auto", cfg["tokens"]))
print()
print("%-36s %12s %12s %18s" % ("decode tokens/s", "inferd", "llama.cpp", "inferd/llama.cpp"))
print("%-36s %12s %12s %18s" % ("batch 1", num(inf1), num(lc1), ratio(inf1, lc1)))
print("%-36s %12s %12s %18s" % ("aggregate, %d streams" % S, num(infS), num(lcS), ratio(infS, lcS)))
if lc_b1 is not None:
    print("%-36s %12s %12s" % ("(llama-batched-bench, 1 sequence)", "", num(lc_b1)))
print()
print("%-36s %s GB/s (%s threads)" % ("memory read bandwidth", num(bw), T))
gb = weight_bytes / 1e9
if inf1 is not None:
    achieved = gb * inf1
    pct = " = %.0f%% of the measured bandwidth" % (100 * achieved / bw) if bw else ""
    print("%-36s %.3f GB/token x %.1f tokens/s = %.1f GB/s%s"
          % ("inferd batch-1 weight reads", gb, inf1, achieved, pct))
if lc1 is not None:
    achieved = gb * lc1
    pct = " = %.0f%% of the measured bandwidth" % (100 * achieved / bw) if bw else ""
    print("%-36s %.3f GB/token x %.1f tokens/s = %.1f GB/s%s"
          % ("llama.cpp batch-1 weight reads", gb, lc1, achieved, pct))
print("(weight bytes per token: %s, %s)"
      % ("the GGUF's tensors as stored" if gguf_model else
         "the checkpoint's tensors at %d bytes per element (--dtype %s)" % (want, cfg["dtype"])
         if want else "the checkpoint's tensors as stored",
         "less the input embedding (untied lm_head)" if untied else "tied embedding counted once"))
missing = [n for n, v in (("memory bandwidth", bw), ("inferd batch 1", inf1),
                          ("inferd %d streams" % S, infS), ("llama-bench", lc1),
                          ("llama-batched-bench %d" % S, lcS)) if v is None]
if missing:
    print("could not parse: %s (raw outputs in %s)" % (", ".join(missing), d))
    sys.exit(1)
PY
}

if [[ -n $report_only ]]; then
  report "$report_only"
  exit
fi

[[ -n $model && -n $gguf ]] || usage
[[ -d $model || ( -f $model && $model == *.gguf ) ]] ||
  { echo "cpu_peer_benchmark: no model dir or .gguf file $model" >&2; exit 1; }
[[ -f $gguf ]] || { echo "cpu_peer_benchmark: no GGUF $gguf (llamacpp-peer.sh convert)" >&2; exit 1; }
for b in "$build/memory_bandwidth" "$build/decode_benchmark"; do
  [[ -x $b ]] || { echo "cpu_peer_benchmark: no $b (cmake --build build --target $(basename "$b"))" >&2; exit 1; }
done
for b in "$peer/llama-bench" "$peer/llama-batched-bench"; do
  [[ -x $b ]] || { echo "cpu_peer_benchmark: no $b (shared/scripts/llamacpp-peer.sh build)" >&2; exit 1; }
done
for v in threads streams tokens; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "cpu_peer_benchmark: --$v must be a positive integer" >&2; exit 2; }
done

if [[ -z $out ]]; then out=$(mktemp -d /tmp/cpu_peer_benchmark.XXXXXX); fi
mkdir -p "$out"
printf '%s\n' "model=$model" "gguf=$gguf" "threads=$threads" "streams=$streams" \
  "tokens=$tokens" "dtype=$dtype" "kv_dtype=$kv_dtype" "quant=$quant" \
  "quant_lm_head=$quant_lm_head" "cpu_isa=$cpu_isa" >"$out/settings"

# Prints the command, runs it, keeps its output (stdout and stderr) in $out/$1.
run() {
  local log=$out/$1; shift
  echo
  echo "+ $*"
  "$@" 2>&1 | tee "$log"
}

# llama-batched-bench skips (silently) a row whose sequences do not fit -c.
ctx=4096
need_ctx=$((streams * (16 + tokens)))
if ((need_ctx > ctx)); then
  echo "cpu_peer_benchmark: $streams x (16 + $tokens) tokens do not fit 4096; llama.cpp gets -c $need_ctx" >&2
  ctx=$need_ctx
fi
npl=1
if ((streams > 1)); then npl="1,$streams"; fi

inferd_flags=()
if [[ -n $dtype ]]; then inferd_flags+=(--dtype "$dtype"); fi
if [[ -n $kv_dtype ]]; then inferd_flags+=(--kv-cache-dtype "$kv_dtype"); fi
if [[ -n $quant ]]; then inferd_flags+=(--quantization "$quant"); fi
if [[ -n $quant_lm_head ]]; then inferd_flags+=(--quantize-lm-head); fi
if [[ -n $cpu_isa ]]; then inferd_flags+=(--cpu-isa "$cpu_isa"); fi
if ((${#inferd_flags[@]} > 0)); then inferd_flags+=(--max-model-len "$ctx"); fi

run memory_bandwidth.txt "$build/memory_bandwidth" --threads "$threads"
run decode_benchmark.txt "$build/decode_benchmark" --model "$model" --threads "$threads" \
  --streams "$streams" --max-tokens "$tokens" --repeats 3 "${inferd_flags[@]}"
run llama_bench.txt "$peer/llama-bench" -m "$gguf" -p 0 -n "$tokens" -t "$threads" -r 3 -o json
run llama_batched_bench.txt "$peer/llama-batched-bench" -m "$gguf" -c "$ctx" -b 512 -ub 512 \
  -npp 16 -ntg "$tokens" -npl "$npl" -t "$threads"

report "$out"
echo "raw outputs: $out"
