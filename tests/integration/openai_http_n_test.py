"""tests/integration/openai_http_n_test.py — `n > 1` over the OpenAI HTTP API
(docs/openai-api.md) on the real daemon: the n choices are one engine group
(Engine::SubmitGroup), so the prompt is computed once and its KV forked.

- n = 3 returns 3 choices with `index` 0, 1, 2 (non-streaming and in every
  streamed chunk), each equal to a gRPC request with its derived seed
  (seed + index);
- the server's `inferd:prompt_tokens_computed_total` rises by the prompt
  length once per n = 3 request (three lone requests would compute it three
  times: the server runs with --no-prefix-caching, so no cache hit
  can stand in for the fork).
"""

import json
import os
import re
import select
import subprocess
import time
import unittest

import openai_http_test
from openai_http_test import grpc_generate, post, request, sse_events, stop
from inference_test import BINARY_DIR, MODEL_DIR, TIMEOUT_S

import grpc  # noqa: E402  (inference_test put the stubs on sys.path)
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

COUNTER = "inferd:prompt_tokens_computed_total"
# A 21-token prompt: one full 16-token block and a partial one (the
# copy-on-write case) on stories260K.
PROMPT = [1] + [260 + (i * 37) % 230 for i in range(1, 21)]


def start_with_metrics(model_dir, extra_args=()):
    """inferd serve with HTTP and metrics ports; returns (process, grpc
    address, http port, metrics port)."""
    process = subprocess.Popen(
        [os.path.join(BINARY_DIR, "inferd"), "serve", "--model", model_dir, "--host", "127.0.0.1",
         "--port", "0", "--metrics-port", "0", "--http-port", "0"] + list(extra_args),
        stdout=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT_S
    fd = process.stdout.fileno()
    pending = b""
    ports = {}
    while time.monotonic() < deadline:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode().strip()
            for key, prefix in (("http", "inferd: http on "), ("metrics", "inferd: metrics on ")):
                if text.startswith(prefix):
                    ports[key] = int(text.rsplit(":", 1)[1])
            if text.startswith("inferd: serving "):
                address = "127.0.0.1:" + text.rsplit(":", 1)[1]
                return process, address, ports["http"], ports["metrics"]
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError("inferd serve printed no ready line (see its stderr)")


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
class OpenAiHttpNTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        assert openai_http_test  # its imports set up sys.path for the stubs
        cls.process, cls.address, cls.port, cls.metrics_port = start_with_metrics(
            MODEL_DIR, ["--no-prefix-caching"])
        cls.channel = grpc.insecure_channel(cls.address)
        cls.stub = inference_pb2_grpc.InferenceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        if stop(cls.process) != 0:
            raise RuntimeError("inferd serve did not exit 0 on SIGTERM")

    def prompt_tokens_computed(self):
        status, _, data = request(self.metrics_port, "GET", "/metrics")
        self.assertEqual(status, 200, data)
        total = None
        for line in data.decode().splitlines():
            m = re.match(re.escape(COUNTER) + r"(\{[^}]*\})? ([0-9.e+]+)$", line)
            if m:
                total = (total or 0) + float(m.group(2))
        self.assertIsNotNone(total, COUNTER + " is not exported")
        return total

    def test_n_3_has_indexes_0_to_2_and_computes_the_prompt_once(self):
        fields = dict(max_tokens=12, temperature=0.9, top_k=40, ignore_eos=True)
        expected = [grpc_generate(self.stub, token_ids=pb.TokenIds(ids=PROMPT), seed=41 + i,
                                  **fields)[0] for i in range(3)]
        self.assertGreater(len(set(expected)), 1)  # different seeds, different texts

        before = self.prompt_tokens_computed()
        status, _, data = post(self.port, "/v1/completions",
                               dict(fields, prompt=PROMPT, seed=41, n=3))
        self.assertEqual(status, 200, data)
        out = json.loads(data)
        self.assertEqual([c["index"] for c in out["choices"]], [0, 1, 2])
        self.assertEqual([c["text"] for c in out["choices"]], expected)
        self.assertEqual(out["usage"]["prompt_tokens"], len(PROMPT))
        self.assertEqual(self.prompt_tokens_computed() - before, len(PROMPT))

        before = self.prompt_tokens_computed()
        status, _, data = post(self.port, "/v1/completions",
                               dict(fields, prompt=PROMPT, seed=41, n=3, stream=True))
        self.assertEqual(status, 200, data)
        events = sse_events(data)
        self.assertEqual(events[-1], "[DONE]")
        texts = ["", "", ""]
        for event in events[:-1]:
            chunk = json.loads(event)
            self.assertTrue(chunk["choices"])
            for c in chunk["choices"]:
                self.assertIn(c["index"], (0, 1, 2))
                texts[c["index"]] += c["text"]
        self.assertEqual(texts, expected)
        self.assertEqual(self.prompt_tokens_computed() - before, len(PROMPT))

    def test_lone_requests_compute_the_prompt_each(self):
        # The counter's baseline: three n = 1 requests compute it three times.
        before = self.prompt_tokens_computed()
        for seed in (41, 42, 43):
            status, _, data = post(self.port, "/v1/completions",
                                   {"prompt": PROMPT, "max_tokens": 4, "seed": seed})
            self.assertEqual(status, 200, data)
        self.assertEqual(self.prompt_tokens_computed() - before, 3 * len(PROMPT))


if __name__ == "__main__":
    unittest.main()
