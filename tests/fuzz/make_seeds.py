#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py SHARED_DIR FUZZ_DIR

Copies seed inputs for the fuzz targets from SHARED_DIR (../shared: models/,
tokenizers/) into FUZZ_DIR/seeds/<target>/, and creates the (growing, never
committed) FUZZ_DIR/corpus/<target>/ and FUZZ_DIR/artifacts/<target>/
directories. safetensors files give only their header (8-byte length + JSON);
files over 256 KiB are skipped (they only slow the fuzzer down). A missing
SHARED_DIR leaves the seed directories empty (the checked-in seeds under
tests/fuzz/corpus/ still run).
"""
import hashlib
import json
import pathlib
import shutil
import struct
import sys

TARGETS = [
    "safetensors_header_fuzz",
    "config_json_fuzz",
    "tokenizer_json_fuzz",
    "sentencepiece_model_fuzz",
    "tokenizer_roundtrip_fuzz",
    "generate_request_fuzz",
    "gbnf_fuzz",  # hand-written seeds only (tests/fuzz/corpus/gbnf_fuzz)
    "json_schema_fuzz",  # hand-written seeds only
    "regex_fuzz",  # hand-written seeds only
    "chat_template_fuzz",
    "openai_request_fuzz",  # hand-written seeds only
    "http_request_fuzz",  # hand-written seeds only
    "openai_stream_fuzz",  # hand-written seeds only
    "gguf_file_fuzz",  # hand-written seeds only
    "gguf_metadata_fuzz",  # hand-written seeds only
]
MAX_SEED_BYTES = 256 << 10  # larger files only slow the fuzzer down


def put(fuzz_dir, target, data):
    name = hashlib.sha1(data).hexdigest()
    (fuzz_dir / "seeds" / target / name).write_bytes(data)


def main():
    shared = pathlib.Path(sys.argv[1])
    fuzz_dir = pathlib.Path(sys.argv[2])
    for t in TARGETS:
        shutil.rmtree(fuzz_dir / "seeds" / t, ignore_errors=True)
        for sub in ("seeds", "corpus", "artifacts"):
            (fuzz_dir / sub / t).mkdir(parents=True, exist_ok=True)
    if not shared.is_dir():
        print(f"make_seeds: {shared} not found; only the checked-in seeds are used")
        return
    counts = dict.fromkeys(TARGETS, 0)

    def add(target, data):
        put(fuzz_dir, target, data)
        counts[target] += 1

    for f in sorted(shared.glob("models/*/*.safetensors")):
        with open(f, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                continue
            (n,) = struct.unpack("<Q", head)
            if n > MAX_SEED_BYTES:
                continue
            add("safetensors_header_fuzz", head + fh.read(n))
    for f in sorted(shared.glob("models/*/config.json")):
        add("config_json_fuzz", f.read_bytes())
    for f in sorted(shared.glob("*/*/tokenizer.json")):
        if f.stat().st_size <= MAX_SEED_BYTES:
            add("tokenizer_json_fuzz", f.read_bytes())
    for f in sorted(shared.glob("*/*/tokenizer.model")):
        if f.stat().st_size <= MAX_SEED_BYTES:
            add("sentencepiece_model_fuzz", f.read_bytes())
    # Text seeds: the README files and any prompt-like text around.
    for f in sorted(shared.glob("**/*.md"))[:20]:
        text = f.read_bytes()[:4096]
        add("tokenizer_roundtrip_fuzz", text)
    # chat_template_fuzz: byte 0 even = a chat request, odd = a tokenizer_config.json.
    for f in sorted(shared.glob("tokenizers/*/tokenizer_config.json")):
        if f.stat().st_size <= MAX_SEED_BYTES:
            add("chat_template_fuzz", b"\x01" + f.read_bytes())
    golden = shared / "golden" / "chat-templates.json"
    if golden.is_file():
        for entry in json.loads(golden.read_text())["templates"].values():
            for case in entry["cases"]:
                request = dict(case["input"])
                kwargs = {k: request.pop(k) for k in list(request)
                          if k not in ("messages", "tools", "add_generation_prompt")}
                if kwargs:
                    request["chat_template_kwargs"] = kwargs
                add("chat_template_fuzz", b"\x00" + json.dumps(request).encode())
    print("make_seeds: " + ", ".join(f"{t}: {n}" for t, n in counts.items()))


if __name__ == "__main__":
    main()
