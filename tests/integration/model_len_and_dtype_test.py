"""tests/integration/model_len_and_dtype_test.py — --max-model-len, --dtype and
--kv-cache-dtype on the real `inferd` with stories260K (context 512, an fp32
checkpoint).

- `serve --max-model-len 256`: GetModelInfo reports max_context 256 and the
  model's 512; admission refuses prompt + max_tokens > 256 with
  INVALID_ARGUMENT naming the limit, and serves a request within it.
- `--max-model-len 1000` (longer than the model) fails to start, naming both.
- A --kv-cache-memory too small for one 512-token sequence: with the default
  --max-model-len the context is capped to what fits (whole blocks), with a
  warning naming both numbers; with --max-model-len 512 start-up fails
  naming the budget.
- `--dtype bf16 --kv-cache-dtype fp16`: GetModelInfo and
  inferd:cache_config_info report them; the weights take about half the
  bytes of the fp32 run. Unknown dtypes exit 2 naming the flag.
- `generate --dtype bf16 --json` works.

The KV bytes per token are computed from config.json, not hard-coded.
"""

import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

import inference_test
from inference_test import (BINARY_DIR, MODEL_DIR, READY_PREFIX, TIMEOUT_S,
                            start_server_with_metrics, stop_server)

import grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test

INFERD = os.path.join(BINARY_DIR, "inferd")
BLOCK_SIZE = 16  # the default --block-size


def run(args, timeout=60):
    return subprocess.run([INFERD] + args, capture_output=True, text=True, timeout=timeout)


def model_config(model_dir=MODEL_DIR):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def kv_bytes_per_token(config, dtype_bytes):
    """K and V of every layer: 2 * layers * kv_heads * head_dim * dtype size."""
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or config["num_attention_heads"]
    return 2 * config["num_hidden_layers"] * kv_heads * head_dim * dtype_bytes


@unittest.skipUnless(os.path.isdir(MODEL_DIR), "../shared/models/stories260K not found")
class ModelLenAndDtypeTest(unittest.TestCase):

    def setUp(self):
        self.config = model_config()
        self.context = self.config["max_position_embeddings"]
        self.assertEqual(self.context, 512)
        self.stderr = tempfile.TemporaryFile(mode="w+")

    def tearDown(self):
        self.stderr.close()

    def stderr_text(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def serve(self, extra_args):
        """Starts a server; the test stops it (exit 0 on SIGTERM) at cleanup.
        Returns (stub, metrics address)."""
        process, address, metrics = start_server_with_metrics(MODEL_DIR, extra_args,
                                                              self.stderr)
        channel = grpc.insecure_channel(address)
        self.addCleanup(lambda: self.assertEqual(stop_server(process), 0))
        self.addCleanup(channel.close)
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
        return inference_pb2_grpc.InferenceStub(channel), metrics

    def info(self, stub):
        return stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)

    def assert_fails_to_start(self, args, *needles):
        """serve exits non-zero, never printing the ready line, and its last
        error line names each of `needles`."""
        result = run(["serve", "--model", MODEL_DIR, "--host", "127.0.0.1", "--port", "0",
                      "--metrics-port", "-1", "--http-port", "-1"] + args)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertNotIn(READY_PREFIX, result.stdout)
        errors = [l for l in result.stderr.splitlines() if "error:" in l]
        self.assertTrue(errors, result.stderr)
        for needle in needles:
            self.assertIn(needle, errors[-1])
        return errors[-1]

    def test_max_model_len_limits_requests(self):
        stub, _ = self.serve(["--max-model-len", "256"])
        info = self.info(stub)
        self.assertEqual(info.max_context, 256)
        self.assertEqual(info.model_max_position_embeddings, 512)
        prompt = [1] + list(range(300, 400))  # 101 tokens
        # 101 + 156 = 257 > 256: refused before it runs, naming the limit.
        with self.assertRaises(grpc.RpcError) as raised:
            list(stub.Generate(pb.GenerateRequest(
                token_ids=pb.TokenIds(ids=prompt), max_tokens=156, temperature=0.0,
                ignore_eos=True), timeout=TIMEOUT_S))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("max model length of 256 tokens (the model's context is 512)",
                      raised.exception.details())
        # A prompt alone longer than the limit, too.
        with self.assertRaises(grpc.RpcError) as raised:
            list(stub.Generate(pb.GenerateRequest(
                token_ids=pb.TokenIds(ids=[1] + list(range(3, 300))), max_tokens=1),
                timeout=TIMEOUT_S))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("max model length of 256 tokens (the model's context is 512)",
                      raised.exception.details())
        # 101 + 155 = 256: served to the last token.
        chunks = list(stub.Generate(pb.GenerateRequest(
            token_ids=pb.TokenIds(ids=prompt), max_tokens=155, temperature=0.0,
            ignore_eos=True), timeout=TIMEOUT_S))
        self.assertEqual(sum(len(c.token_ids) for c in chunks), 155)
        self.assertEqual(chunks[-1].finish_reason, pb.FINISH_REASON_LENGTH)

    def test_max_model_len_longer_than_the_model_fails(self):
        self.assert_fails_to_start(["--max-model-len", "1000"], "1000", "512")

    def test_small_kv_budget_caps_the_context(self):
        fp32_token = kv_bytes_per_token(self.config, 4)
        budget = 5 * BLOCK_SIZE * fp32_token + fp32_token  # 5 blocks and a bit: 80 tokens
        capped = 5 * BLOCK_SIZE
        self.assertLess(capped, self.context)
        stub, _ = self.serve(["--kv-cache-memory", str(budget)])
        info = self.info(stub)
        self.assertEqual(info.max_context, capped)
        self.assertEqual(info.max_context % BLOCK_SIZE, 0)
        self.assertEqual(info.model_max_position_embeddings, self.context)
        self.assertEqual(info.num_kv_blocks, 5)
        self.assertEqual(info.kv_cache_bytes, 5 * BLOCK_SIZE * fp32_token)
        warnings = [l for l in self.stderr_text().splitlines()
                    if "warning:" in l and "does not fit the KV cache" in l]
        self.assertEqual(len(warnings), 1, self.stderr_text())
        self.assertIn("context of %d tokens" % self.context, warnings[0])
        self.assertIn("holds %d tokens" % capped, warnings[0])
        self.assertIn("at most %d tokens" % capped, warnings[0])
        # The capped limit is what admission enforces.
        with self.assertRaises(grpc.RpcError) as raised:
            list(stub.Generate(pb.GenerateRequest(
                token_ids=pb.TokenIds(ids=[1, 2, 3]), max_tokens=capped - 2), timeout=TIMEOUT_S))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        chunks = list(stub.Generate(pb.GenerateRequest(
            token_ids=pb.TokenIds(ids=[1, 2, 3]), max_tokens=capped - 3, temperature=0.0,
            ignore_eos=True), timeout=TIMEOUT_S))
        self.assertEqual(sum(len(c.token_ids) for c in chunks), capped - 3)
        # The same budget with the full context asked for: refused, naming it.
        error = self.assert_fails_to_start(
            ["--kv-cache-memory", str(budget), "--max-model-len", str(self.context)],
            "max_model_len %d" % self.context, "kv_cache_memory", "holds %d tokens" % capped,
            "--kv-cache-memory")
        print("\n%s" % error)

    def test_dtypes(self):
        stub, _ = self.serve([])
        fp32 = self.info(stub)
        self.assertEqual((fp32.dtype, fp32.kv_cache_dtype, fp32.checkpoint_dtype),
                         ("fp32", "fp32", "fp32"))
        stub, metrics = self.serve(["--dtype", "bf16", "--kv-cache-dtype", "fp16"])
        info = self.info(stub)
        self.assertEqual(info.dtype, "bf16")
        self.assertEqual(info.kv_cache_dtype, "fp16")
        self.assertEqual(info.checkpoint_dtype, "fp32")
        print("\nweight_bytes fp32 %d, bf16 %d; kv_cache_bytes fp32 %d, fp16 %d" % (
            fp32.weight_bytes, info.weight_bytes, fp32.kv_cache_bytes, info.kv_cache_bytes))
        # Every weight in 2 bytes (norms perhaps kept wider): about half.
        self.assertGreater(fp32.weight_bytes, 0)
        self.assertGreaterEqual(info.weight_bytes, 0.45 * fp32.weight_bytes)
        self.assertLessEqual(info.weight_bytes, 0.55 * fp32.weight_bytes)
        # The same budget holds twice the fp16 blocks.
        self.assertEqual(info.num_kv_blocks, 2 * fp32.num_kv_blocks)
        # The generation runs in bf16 with an fp16 cache.
        chunks = list(stub.Generate(pb.GenerateRequest(
            token_ids=pb.TokenIds(ids=[1, 403]), max_tokens=20, temperature=0.0,
            ignore_eos=True), timeout=TIMEOUT_S))
        self.assertEqual(sum(len(c.token_ids) for c in chunks), 20)
        with urllib.request.urlopen("http://%s/metrics" % metrics, timeout=10) as response:
            text = response.read().decode()
        lines = [l for l in text.splitlines() if l.startswith("inferd:cache_config_info{")]
        self.assertEqual(len(lines), 1, text)
        self.assertIn('cache_dtype="fp16"', lines[0])
        self.assertIn('quantization="none"', lines[0])
        self.assertTrue(lines[0].endswith(" 1"), lines[0])

        for flag, value in (("--dtype", "int8"), ("--kv-cache-dtype", "x")):
            for command in ("serve", "generate"):
                result = run([command, "--model", MODEL_DIR, "--port", "0", "--metrics-port", "-1",
                              "--http-port", "-1", flag, value] if command == "serve" else
                             [command, "--model", MODEL_DIR, "--prompt-ids", "1", flag, value])
                self.assertEqual(result.returncode, 2, (command, flag, result.stderr))
                self.assertIn("%s must be auto, fp32, bf16 or fp16" % flag, result.stderr)
                self.assertIn('"%s"' % value, result.stderr)
                self.assertNotIn(READY_PREFIX, result.stdout)

    def test_generate_in_bf16(self):
        result = run(["generate", "--model", MODEL_DIR, "--dtype", "bf16", "--prompt-ids", "1,2,3",
                      "--max-tokens", "8", "--temperature", "0", "--json"])
        self.assertEqual(result.returncode, 0, result.stderr)
        output = json.loads(result.stdout)
        self.assertEqual(output["prompt_ids"], [1, 2, 3])
        self.assertEqual(len(output["output_ids"]), 8)
        self.assertEqual(output["finish_reason"], "length")
        self.assertTrue(all(0 <= i < self.config["vocab_size"] for i in output["output_ids"]))
        # --max-model-len reaches generate too.
        result = run(["generate", "--model", MODEL_DIR, "--dtype", "bf16", "--prompt-ids", "1,2,3",
                      "--max-tokens", "8", "--max-model-len", "1000"])
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("1000", result.stderr)
        self.assertIn("512", result.stderr)


if __name__ == "__main__":
    unittest.main()
