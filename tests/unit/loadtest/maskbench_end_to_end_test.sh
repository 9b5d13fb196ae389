#!/bin/sh
# tests/unit/loadtest/maskbench_end_to_end_test.sh — build/maskbench on three
# hand-written MaskBench-format files in a temp dir: an object schema and an
# array schema (valid instances must get through the masks, invalid ones must
# be stopped: both pass), and a schema whose $ref points nowhere (a compile
# error). Then the same with --test-crash-on: the crashing schema is counted
# as a crash by id and the other two still run.
#   maskbench_end_to_end_test.sh BUILD/maskbench SHARED_DIR
set -eu
bin=$1
shared=$2
if [ ! -f "$shared/tokenizers/llama3/tokenizer.json" ]; then
  echo "SKIP: $shared/tokenizers/llama3 absent"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/data"
cat > "$dir/data/a_object.json" <<'EOF'
{"description": "hand-written", "meta": {"raw_features": ["properties", "required", "type:object"]},
 "schema": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"], "additionalProperties": false},
 "tests": [
  {"valid": true, "data": {"name": "Ann", "age": 30}},
  {"valid": true, "data": {"name": "B\u00f6 \"x\"\n", "age": -1}},
  {"valid": false, "data": {"name": "Ann"}},
  {"valid": false, "data": {"name": "Ann", "age": "30"}},
  {"valid": false, "data": {"age": 30, "name": "Ann"}}]}
EOF
cat > "$dir/data/b_array.json" <<'EOF'
{"meta": {"raw_features": ["items", "type:array"]},
 "schema": {"type": "array", "items": {"type": "number"}},
 "tests": [
  {"valid": true, "data": [1, 2.5, 1E-5, 1e16, -0.0]},
  {"valid": true, "data": []},
  {"valid": false, "data": [1, "x"]},
  {"valid": false, "data": {"a": 1}}]}
EOF
cat > "$dir/data/c_bad_ref.json" <<'EOF'
{"meta": {"raw_features": ["$ref"]},
 "schema": {"type": "object", "properties": {"x": {"$ref": "#/definitions/missing"}}, "required": ["x"]},
 "tests": [{"valid": true, "data": {"x": 1}}]}
EOF

"$bin" "$dir/data" --tokenizer "$shared/tokenizers/llama3" --timeout-s 60 \
  --json "$dir/out.json" --failures "$dir/failures.jsonl" > "$dir/table.txt"
cat "$dir/table.txt"
python3 - "$dir/out.json" "$dir/failures.jsonl" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
outcomes = {s["id"]: s["outcome"] for s in r["per_schema"]}
print(outcomes)
assert outcomes == {"a_object.json": "pass", "b_array.json": "pass",
                    "c_bad_ref.json": "compile_error"}, outcomes
assert r["schemas"] == 3 and r["passing"] == 2 and r["compile_errors"] == 1, r
assert r["invalidation_errors"] == 0 and r["crashes"] == 0 and r["timeouts"] == 0, r
assert r["tokens"] > 20 and r["tbm"]["p50_us"] > 0 and r["ttfm"]["p50_ms"] > 0, r
feats = {f["feature"]: f for f in r["features"]}
assert feats["$ref"]["compile_errors"] == 1 and feats["items"]["passing"] == 1, feats
fails = [json.loads(l) for l in open(sys.argv[2])]
assert [f["id"] for f in fails] == ["c_bad_ref.json"] and fails[0]["error"], fails
EOF

"$bin" "$dir/data" --tokenizer "$shared/tokenizers/llama3" --test-crash-on b_array \
  --json "$dir/crash.json" > /dev/null
python3 - "$dir/crash.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
outcomes = {s["id"]: s["outcome"] for s in r["per_schema"]}
assert outcomes == {"a_object.json": "pass", "b_array.json": "crash",
                    "c_bad_ref.json": "compile_error"}, outcomes
assert r["crashes"] == 1, r
EOF
echo "maskbench end to end: OK"
