"""tests/integration/load_format_test.py — `--load-format auto|copy|mmap` on
the real `inferd` (docs: README "Weights and memory").

- `inferd generate --load-format mmap` gives exactly the tokens of the
  default (copy) on stories260K and tiny-llama, greedy, in the checkpoint's
  dtype (tensors mapped) and in bf16 (converted, so copied); `copy` and
  `auto` are the default.
- `inferd serve --load-format mmap` logs weights_mapped_bytes (> 0) and
  weights_copied_bytes summing to weight_bytes, keeps the checkpoint mapped
  (/proc/PID/maps) and serves the same greedy tokens; the default maps
  nothing of it (a file replaced under it cannot fault it).
- A bad value is refused with exit 2 by both commands, naming the flag and
  the value.
"""

import json
import os
import subprocess
import tempfile
import unittest

import inference_test
from inference_test import BINARY_DIR, MODEL_DIR, SHARED_DIR, TIMEOUT_S, start_server, stop_server

import grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test

INFERD = os.path.join(BINARY_DIR, "inferd")
MODELS = [MODEL_DIR, os.path.join(SHARED_DIR, "models", "tiny-llama")]
PROMPT_IDS = "1,403,411,261"
MAX_TOKENS = 24


def run(args, timeout=120):
    return subprocess.run([INFERD] + args, capture_output=True, text=True, timeout=timeout)


def generate(model, extra):
    result = run(["generate", "--model", model, "--prompt-ids", PROMPT_IDS, "--max-tokens",
                  str(MAX_TOKENS), "--temperature", "0", "--ignore-eos", "--json"] + extra)
    if result.returncode != 0:
        raise AssertionError("inferd generate %s failed: %s" % (extra, result.stderr))
    return json.loads(result.stdout.strip().splitlines()[-1])["output_ids"]


class LoadFormatTest(unittest.TestCase):
    def test_generate_mmap_gives_the_tokens_of_the_copy(self):
        present = [m for m in MODELS if os.path.isdir(m)]
        if not present:
            self.skipTest("no shared models in %s" % SHARED_DIR)
        for model in present:
            for dtype in ([], ["--dtype", "bf16"]):
                with self.subTest(model=os.path.basename(model), dtype=dtype):
                    default = generate(model, dtype)
                    self.assertEqual(len(default), MAX_TOKENS)
                    for fmt in ("copy", "auto", "mmap"):
                        self.assertEqual(generate(model, dtype + ["--load-format", fmt]), default,
                                         fmt)

    def test_serve_mmap_logs_mapped_bytes_and_keeps_the_file_mapped(self):
        if not os.path.isdir(MODEL_DIR):
            self.skipTest("no model at %s" % MODEL_DIR)
        expected = generate(MODEL_DIR, [])
        weights = os.path.realpath(os.path.join(MODEL_DIR, "model.safetensors"))
        for fmt in ("mmap", "copy"):
            with self.subTest(fmt=fmt), tempfile.TemporaryFile(mode="w+") as err:
                flags = ["--load-format", fmt, "--log-format", "json", "--metrics-port", "-1"]
                process, address = start_server(MODEL_DIR, flags, stderr=err)
                try:
                    with open("/proc/%d/maps" % process.pid) as f:
                        maps = f.read()
                    with grpc.insecure_channel(address) as channel:
                        stub = inference_pb2_grpc.InferenceStub(channel)
                        ids = [int(i) for i in PROMPT_IDS.split(",")]
                        chunks = list(stub.Generate(pb.GenerateRequest(
                            token_ids=pb.TokenIds(ids=ids), max_tokens=MAX_TOKENS,
                            temperature=0.0, ignore_eos=True), timeout=TIMEOUT_S))
                    self.assertEqual([t for c in chunks for t in c.token_ids], expected)
                finally:
                    self.assertEqual(stop_server(process), 0)
                err.seek(0)
                loaded = [json.loads(line) for line in err if '"model loaded' in line]
                self.assertEqual(len(loaded), 1)
                line = loaded[0]
                self.assertEqual(line["load_format"], fmt)
                self.assertEqual(line["weights_mapped_bytes"] + line["weights_copied_bytes"],
                                 line["weight_bytes"])
                if fmt == "mmap":
                    # Embedding, o_proj and down_proj are mapped; fused q/k/v,
                    # gate/up and the fp32 norms are copied.
                    self.assertGreater(line["weights_mapped_bytes"], 0)
                    self.assertGreater(line["weights_copied_bytes"], 0)
                    self.assertIn(weights, maps)
                else:
                    self.assertEqual(line["weights_mapped_bytes"], 0)
                    self.assertNotIn(weights, maps)

    def test_bad_value_names_the_flag(self):
        for command in ("generate", "serve"):
            args = ([command, "--model", MODEL_DIR, "--prompt-ids", "1"] if command == "generate"
                    else [command, "--model", MODEL_DIR, "--port", "0", "--metrics-port", "-1",
                          "--http-port", "-1"])
            for value in ("mmaps", "", "safetensors"):
                with self.subTest(command=command, value=value):
                    result = run(args + ["--load-format", value], timeout=30)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    self.assertIn("--load-format must be auto, copy or mmap", result.stderr)
                    self.assertIn('"%s"' % value, result.stderr)
                    self.assertNotIn("inferd: serving", result.stdout)


if __name__ == "__main__":
    unittest.main()
