"""tests/integration/inference_test.py — the daemon from a Python grpcio client.

Starts the real `inferd serve --port 0 --metrics-port 0` per test class (a free
metrics port: the default 9090 would clash between servers), reads the port from its
"inferd: serving <model> on HOST:PORT" line, and talks gRPC with the stubs that
proto/CMakeLists.txt generates into <build>/python. CTest runs each test case
as its own test (see CMakeLists.txt). Environment: INFERD_BINARY_DIR (the
build dir), INFERD_SOURCE_DIR (the repo), INFERD_SHARED_DIR (optional).
"""

import os
import select
import signal
import subprocess
import sys
import time
import unittest

BINARY_DIR = os.environ.get("INFERD_BINARY_DIR", os.path.join(os.getcwd(), "build"))
SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR", os.getcwd())
SHARED_DIR = os.environ.get("INFERD_SHARED_DIR") or os.path.join(SOURCE_DIR, "..", "shared")
MODEL_DIR = os.path.join(SHARED_DIR, "models", "stories260K")
# Context 4096: a 4000-token request runs for seconds, so a cancel lands mid-stream.
LONG_MODEL_DIR = os.path.join(SHARED_DIR, "models", "tiny-llama")
LONG_MAX_TOKENS = 4000
sys.path.insert(0, os.path.join(BINARY_DIR, "python"))

import grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from inferd.v1 import inference_pb2  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

READY_PREFIX = "inferd: serving "
METRICS_PREFIX = "inferd: metrics on "
TIMEOUT_S = 60


def start_server(model_dir=MODEL_DIR, extra_args=(), stderr=None):
    """Starts inferd serve (with `extra_args`; its stderr to the file object
    `stderr`, or the test's); returns (process, "127.0.0.1:PORT")."""
    process, address, _ = start_server_with_metrics(model_dir, extra_args, stderr)
    return process, address


def start_server_with_metrics(model_dir=MODEL_DIR, extra_args=(), stderr=None):
    """start_server, also returning the metrics address ("HOST:PORT" from the
    `inferd: metrics on` line; None with --metrics-port -1)."""
    process = subprocess.Popen(
        [os.path.join(BINARY_DIR, "inferd"), "serve", "--model", model_dir,
         "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--http-port", "-1"]
        + list(extra_args),
        stdout=subprocess.PIPE, stderr=stderr)
    deadline = time.monotonic() + TIMEOUT_S
    # Raw reads: a buffered readline() could swallow the ready line together
    # with the metrics line before it, and select() would then wait forever.
    fd = process.stdout.fileno()
    pending = b""
    metrics = None
    while time.monotonic() < deadline:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode().strip()
            if text.startswith(METRICS_PREFIX):
                metrics = text[len(METRICS_PREFIX):]
            if text.startswith(READY_PREFIX):
                return process, "127.0.0.1:" + text.rsplit(":", 1)[1], metrics
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    raise RuntimeError("inferd serve printed no ready line (see its stderr)")


def stop_server(process):
    """SIGTERM; returns the exit code (None when it had to be killed)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return None
    finally:
        process.stdout.close()


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
class InferenceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.process, cls.address = start_server()
        cls.channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(cls.channel).result(timeout=TIMEOUT_S)
        cls.stub = inference_pb2_grpc.InferenceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        if stop_server(cls.process) != 0:
            raise RuntimeError("inferd serve did not exit 0 on SIGTERM")

    def wait_until_idle(self, stub, timeout_s=10):
        """Polls GetModelInfo until nothing runs or waits and every KV block is free."""
        deadline = time.monotonic() + timeout_s
        while True:
            engine = stub.GetModelInfo(inference_pb2.GetModelInfoRequest(), timeout=10).engine
            if (engine.num_running == 0 and engine.num_waiting == 0 and
                    engine.num_kv_blocks_free == engine.num_kv_blocks_total > 0):
                return engine
            if time.monotonic() > deadline:
                self.fail("engine not idle: %s" % engine)
            time.sleep(0.02)

    def test_streaming_generate(self):
        request = inference_pb2.GenerateRequest(
            text="Once upon a time", max_tokens=100, temperature=0.0, ignore_eos=True)
        chunks = list(self.stub.Generate(request, timeout=TIMEOUT_S))
        self.assertGreater(len(chunks), 1)
        ids = [i for c in chunks for i in c.token_ids]
        text = "".join(c.text for c in chunks)
        self.assertEqual(len(ids), 100)
        self.assertTrue(chunks[0].request_id)
        self.assertEqual(chunks[-1].finish_reason, inference_pb2.FINISH_REASON_LENGTH)
        self.assertEqual(chunks[-1].usage.completion_tokens, 100)
        # Greedy is deterministic, and the text is what the ids decode to.
        again = list(self.stub.Generate(request, timeout=TIMEOUT_S))
        self.assertEqual([i for c in again for i in c.token_ids], ids)
        prompt = self.stub.Tokenize(inference_pb2.TokenizeRequest(text="Once upon a time"),
                                    timeout=10).token_ids
        full = self.stub.Detokenize(
            inference_pb2.DetokenizeRequest(token_ids=list(prompt) + ids), timeout=10).text
        self.assertEqual(full, "Once upon a time" + text)

    @unittest.skipUnless(os.path.isdir(LONG_MODEL_DIR), "../shared/models/tiny-llama not found")
    def test_cancellation(self):
        process, address = start_server(LONG_MODEL_DIR)
        try:
            with grpc.insecure_channel(address) as channel:
                stub = inference_pb2_grpc.InferenceStub(channel)
                steps_before = self.wait_until_idle(stub).num_steps
                request = inference_pb2.GenerateRequest(
                    token_ids=inference_pb2.TokenIds(ids=[1, 450, 1000]),
                    max_tokens=LONG_MAX_TOKENS, temperature=0.0, ignore_eos=True)
                call = stub.Generate(request, timeout=TIMEOUT_S)
                next(call)
                call.cancel()
                with self.assertRaises(grpc.RpcError) as raised:
                    for _ in call:
                        pass
                self.assertEqual(raised.exception.code(), grpc.StatusCode.CANCELLED)
                # Idle, and fewer steps than finishing takes: the request was aborted.
                steps = self.wait_until_idle(stub).num_steps - steps_before
                self.assertLess(steps, LONG_MAX_TOKENS - 1)
        finally:
            self.assertEqual(stop_server(process), 0)

    def test_health(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "inferd.v1.Inference", "liveness"):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING, service)
        with self.assertRaises(grpc.RpcError) as raised:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_malformed_request(self):
        request = inference_pb2.GenerateRequest(text="Hello", top_p=1.5)
        with self.assertRaises(grpc.RpcError) as raised:
            list(self.stub.Generate(request, timeout=TIMEOUT_S))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("top_p", raised.exception.details())
        # The server still serves.
        ok = list(self.stub.Generate(inference_pb2.GenerateRequest(text="Hello", max_tokens=3),
                                     timeout=TIMEOUT_S))
        self.assertTrue(ok)


if __name__ == "__main__":
    unittest.main()
