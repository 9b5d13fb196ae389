"""tests/integration/bf16_memory_test.py — a bf16 checkpoint stays bf16 in
memory, and its long context starts with default flags.

A random-weight bf16 Llama of Llama-3.2-1B width (2 layers, the 32000-token
Llama 2 vocabulary: ~375 MB of weights, max_position_embeddings 131072) is
written at test time by ../shared/scripts/make_llama1b_random.py into a
temporary directory (removed after).

- `inferd generate` with default flags, and with `--dtype bf16
  --kv-cache-dtype bf16`: the peak resident set the kernel reports for the
  child (wait4's ru_maxrss, KiB on Linux) is more than the weight bytes (they
  are really resident) and at most 1.1 x the weight bytes + the KV budget
  (256 MiB by default) + 200 MiB. Before weights kept their dtype, the
  widened fp32 copy plus the mapped file took 3x the weight bytes and failed
  it. A control run with `--dtype fp32` must peak above 1.9x the weight bytes:
  the measurement does see what the weights take.
- `inferd serve` with default flags starts: the 131072-token context is
  capped to what 256 MiB of bf16 KV holds, GetModelInfo says so, and a
  warning names 131072.
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import unittest

import inference_test
from inference_test import BINARY_DIR, SHARED_DIR, TIMEOUT_S, start_server, stop_server

import grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test

INFERD = os.path.join(BINARY_DIR, "inferd")
SYSTEM_PYTHON = "/usr/bin/python3"
MAKE_MODEL = os.path.join(SHARED_DIR, "scripts", "make_llama1b_random.py")
LLAMA2_TOKENIZER = os.path.join(SHARED_DIR, "tokenizers", "llama2")
MIB = 1 << 20
KV_BUDGET = 256 * MIB  # the default --kv-cache-memory
SLACK = 200 * MIB
BLOCK_SIZE = 16  # the default --block-size


def safetensors_weight_bytes(path):
    """The file's size less its 8-byte header length and the JSON header."""
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
    return os.path.getsize(path) - 8 - header_len


def run_measured(args, timeout=120):
    """Runs inferd with `args`; returns (exit code, stdout, stderr, peak RSS
    in bytes) with the peak from the kernel's rusage of the child (wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([INFERD] + args, stdout=out, stderr=err)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(), err.read().decode(),
                rusage.ru_maxrss * 1024)


def missing():
    """Why the model cannot be made here ("" when it can)."""
    if not os.path.isfile(MAKE_MODEL):
        return "../shared/scripts/make_llama1b_random.py not found (set INFERD_SHARED_DIR)"
    if not os.path.isdir(LLAMA2_TOKENIZER):
        return "../shared/tokenizers/llama2 not found"
    if not os.access(SYSTEM_PYTHON, os.X_OK) or subprocess.run(
            [SYSTEM_PYTHON, "-c", "import numpy"], capture_output=True).returncode != 0:
        return "/usr/bin/python3 with numpy (Debian: python3-numpy) not found"
    return ""


class Bf16MemoryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        reason = missing()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.mkdtemp(prefix="inferd-bf16-memory-")
        cls.model = os.path.join(cls.tmp, "llama-bf16")
        try:
            result = subprocess.run(
                [SYSTEM_PYTHON, MAKE_MODEL, cls.model, "--layers", "2", "--llama2-vocab"],
                capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                raise RuntimeError("make_llama1b_random.py failed: " + result.stderr)
            with open(os.path.join(cls.model, "config.json")) as f:
                cls.config = json.load(f)
            cls.weight_bytes = safetensors_weight_bytes(
                os.path.join(cls.model, "model.safetensors"))
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kv_bytes_per_token(self, dtype_bytes):
        c = self.config
        head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        return 2 * c["num_hidden_layers"] * c["num_key_value_heads"] * head_dim * dtype_bytes

    def test_generate_peak_resident_memory(self):
        self.assertEqual(self.config["torch_dtype"], "bfloat16")
        bound = 1.1 * self.weight_bytes + KV_BUDGET + SLACK
        print("\nweights %.1f MiB; bound 1.1 x weights + %d MiB KV + %d MiB = %.1f MiB" % (
            self.weight_bytes / MIB, KV_BUDGET // MIB, SLACK // MIB, bound / MIB))
        for flags in ([], ["--dtype", "bf16", "--kv-cache-dtype", "bf16"]):
            code, stdout, stderr, peak = run_measured(
                ["generate", "--model", self.model, "--prompt-ids", "1,2,3", "--max-tokens", "4",
                 "--json"] + flags)
            label = " ".join(flags) or "default flags"
            print("generate (%s): peak RSS %.1f MiB (%.2f x the weights)" % (
                label, peak / MIB, peak / self.weight_bytes))
            self.assertEqual(code, 0, stderr)
            output = json.loads(stdout)
            self.assertEqual(len(output["output_ids"]), 4, stdout)
            self.assertGreater(peak, self.weight_bytes, label)
            self.assertLessEqual(peak, bound, label)
        code, _, stderr, peak = run_measured(
            ["generate", "--model", self.model, "--prompt-ids", "1,2,3", "--max-tokens", "4",
             "--dtype", "fp32"])
        print("generate (--dtype fp32, control): peak RSS %.1f MiB (%.2f x the weights)" % (
            peak / MIB, peak / self.weight_bytes))
        self.assertEqual(code, 0, stderr)
        self.assertGreater(peak, 1.9 * self.weight_bytes)

    def test_serve_caps_the_context_to_the_kv_budget(self):
        context = self.config["max_position_embeddings"]
        self.assertEqual(context, 131072)
        per_block = self.kv_bytes_per_token(2) * BLOCK_SIZE
        expected = KV_BUDGET // per_block * BLOCK_SIZE
        with tempfile.TemporaryFile(mode="w+") as stderr:
            process, address = start_server(self.model, stderr=stderr)
            try:
                with grpc.insecure_channel(address) as channel:
                    stub = inference_pb2_grpc.InferenceStub(channel)
                    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=TIMEOUT_S)
                    print("\nserve: dtype %s, kv_cache_dtype %s, max_context %d of %d, "
                          "weight_bytes %d (file %d), kv_cache_bytes %d" % (
                              info.dtype, info.kv_cache_dtype, info.max_context,
                              info.model_max_position_embeddings, info.weight_bytes,
                              self.weight_bytes, info.kv_cache_bytes))
                    self.assertEqual(info.dtype, "bf16")
                    self.assertEqual(info.checkpoint_dtype, "bf16")
                    self.assertEqual(info.kv_cache_dtype, "bf16")
                    self.assertEqual(info.model_max_position_embeddings, context)
                    self.assertLess(info.max_context, context)
                    self.assertEqual(info.max_context, expected)
                    self.assertLessEqual(info.kv_cache_bytes, KV_BUDGET)
                    self.assertAlmostEqual(info.weight_bytes, self.weight_bytes,
                                           delta=0.01 * self.weight_bytes)
                    chunks = list(stub.Generate(pb.GenerateRequest(
                        token_ids=pb.TokenIds(ids=[1, 2, 3]), max_tokens=4, temperature=0.0,
                        ignore_eos=True), timeout=TIMEOUT_S))
                    self.assertEqual(sum(len(c.token_ids) for c in chunks), 4)
            finally:
                self.assertEqual(stop_server(process), 0)
            stderr.seek(0)
            text = stderr.read()
        warnings = [l for l in text.splitlines()
                    if "warning:" in l and "does not fit the KV cache" in l]
        self.assertEqual(len(warnings), 1, text)
        self.assertIn("context of %d tokens" % context, warnings[0])
        self.assertIn("holds %d tokens" % expected, warnings[0])


if __name__ == "__main__":
    unittest.main()
