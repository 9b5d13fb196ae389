"""tests/integration/hardening_test.py — files, addresses, signals and
requests from a hostile-input trial, each on the real `inferd`: a FIFO or a
symlink loop where a model file should be, --model naming a file, ports that
are taken, addresses that are not this machine's, SIGHUP and SIGUSR1, a
duplicate in-flight request_id, and checkpoints that load but are broken.
Each case must end with a clear one-line error (or the documented behaviour),
never a hang, a crash or a silent start.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import inference_test
from inference_test import BINARY_DIR, MODEL_DIR, READY_PREFIX, TIMEOUT_S, start_server

import grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test

INFERD = os.path.join(BINARY_DIR, "inferd")


def run(args, timeout=60):
    return subprocess.run([INFERD] + args, capture_output=True, text=True, timeout=timeout)


def last_error(result):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    return lines[-1] if lines else ""


@unittest.skipUnless(os.path.isdir(MODEL_DIR), "../shared/models/stories260K not found")
class HardeningTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="inferd-hardening-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def model_copy(self, name="m"):
        d = os.path.join(self.dir, name)
        shutil.copytree(MODEL_DIR, d)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        return d

    def generate(self, model, timeout=60):
        return run(["generate", "--model", model, "--prompt-ids", "1,403", "--max-tokens", "2",
                    "--temperature", "0"], timeout=timeout)

    # --- model paths -------------------------------------------------------

    def test_model_paths_that_are_not_what_they_should_be(self):
        fifo_model = self.model_copy("fifo")
        os.remove(os.path.join(fifo_model, "model.safetensors"))
        os.mkfifo(os.path.join(fifo_model, "model.safetensors"))
        # Before the fix, open() of the FIFO blocked forever.
        result = self.generate(fifo_model, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("model.safetensors: is a FIFO (named pipe), not a regular file",
                      result.stderr)

        config_fifo = self.model_copy("config_fifo")
        os.remove(os.path.join(config_fifo, "config.json"))
        os.mkfifo(os.path.join(config_fifo, "config.json"))
        result = self.generate(config_fifo, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("config.json: is a FIFO", result.stderr)

        result = self.generate(os.path.join(MODEL_DIR, "config.json"))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("is a regular file, not a directory", result.stderr)

        loop = os.path.join(self.dir, "loop")
        os.symlink(loop + "2", loop)
        os.symlink(loop, loop + "2")
        result = self.generate(loop)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("is a symlink loop, not a directory", result.stderr)

        result = self.generate(os.path.join(self.dir, "absent"))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("no such file or directory", result.stderr)

        inner = self.model_copy("inner_loop")
        os.remove(os.path.join(inner, "model.safetensors"))
        os.symlink("model.safetensors", os.path.join(inner, "model.safetensors"))
        result = self.generate(inner)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("model.safetensors: a symlink loop", result.stderr)
        self.assertNotIn("PERMISSION_DENIED", result.stderr)

    # --- broken checkpoints that load ----------------------------------------

    def test_all_nan_weights_and_a_small_tokenizer_are_warned_about(self):
        model = self.model_copy("nan")
        path = os.path.join(model, "model.safetensors")
        with open(path, "r+b") as f:
            header_len = struct.unpack("<Q", f.read(8))[0]
            size = os.path.getsize(path)
            f.seek(8 + header_len)
            # Every weight NaN (fp32 0x7fc00000).
            f.write(struct.pack("<I", 0x7fc00000) * ((size - 8 - header_len) // 4))
        result = self.generate(model)
        self.assertIn("warning:", result.stderr)
        self.assertIn("hold only NaN or infinite values", result.stderr)

        import json
        padded = self.model_copy("padded")
        with open(os.path.join(padded, "config.json")) as f:
            config = json.load(f)
        config["vocab_size"] = 600  # the tokenizer has 512
        with open(os.path.join(padded, "config.json"), "w") as f:
            json.dump(config, f)
        result = self.generate(padded)
        # The embedding no longer matches: refused, naming the tensor.
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("embed_tokens", result.stderr)

    # --- addresses -----------------------------------------------------------

    def test_bind_failures_name_the_flag_the_address_and_the_reason(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            # No HTTP API unless a case asks (a later --http-port wins): its
            # default, 8000, may be taken on a shared machine.
            base = ["serve", "--model", MODEL_DIR, "--host", "127.0.0.1", "--http-port", "-1"]
            for args, expected in [
                    (["--port", str(port), "--metrics-port", "-1"],
                     "--port %d: cannot listen on 127.0.0.1:%d: Address already in use" % (port, port)),
                    (["--port", "0", "--metrics-port", str(port)],
                     "--metrics-port %d: cannot listen on 127.0.0.1:%d: Address already in use"
                     % (port, port)),
                    (["--port", "0", "--metrics-port", "-1", "--http-port", str(port)],
                     "--http-port %d: cannot listen on 127.0.0.1:%d: Address already in use "
                     "(another process listens there: stop it, or choose another --http-port "
                     "(0: any free port; -1: none))" % (port, port)),
                    (["--port", "0", "--metrics-port", "-1", "--host", "8.8.8.8"],
                     "--host 8.8.8.8: cannot listen on 8.8.8.8:0: Cannot assign requested address"),
                    (["--port", "0", "--host", "no-such-host.invalid"],
                     "--host no-such-host.invalid: cannot resolve"),
                    (["--port", "47123", "--metrics-port", "47123"],
                     "--port and --metrics-port are both 47123"),
                    (["--port", "0", "--block-size", "1000000"],
                     "--block-size must be in [1, 1024], got 1000000"),
                    # Before: std::bad_alloc and std::system_error, exit 134.
                    (["--port", "0", "--kv-cache-memory", "100TiB"],
                     "--kv-cache-memory 100TiB (100.0 TiB) is more than the"),
                    (["--port", "0", "--num-threads", "100000"],
                     "--num-threads must be in [0, 1024], got 100000")]:
                result = run(base + args)
                self.assertIn(result.returncode, (1, 2), result.stderr)
                self.assertIn(expected, result.stderr)
                self.assertNotIn("listening on", result.stdout)  # nothing opened first
                self.assertNotIn("CivetServer", result.stderr)
                self.assertNotIn("chttp2_server", result.stderr)
        finally:
            taken.close()

    # --- signals -------------------------------------------------------------

    def start(self):
        process = subprocess.Popen(
            [INFERD, "serve", "--model", MODEL_DIR, "--host", "127.0.0.1", "--port", "0",
             "--metrics-port", "-1", "--http-port", "-1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        address = None
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and address is None:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith(READY_PREFIX):
                address = line.split(" on ")[-1].strip()
        self.assertIsNotNone(address, "the server did not start")
        return process, address

    def test_sighup_drains_and_sigusr1_is_ignored(self):
        process, address = self.start()
        channel = grpc.insecure_channel(address)
        stub = inference_pb2_grpc.InferenceStub(channel)
        for sig in (signal.SIGUSR1, signal.SIGUSR2):
            process.send_signal(sig)
        time.sleep(0.3)
        self.assertIsNone(process.poll(), "SIGUSR1/SIGUSR2 ended the server")
        request = pb.GenerateRequest(token_ids=pb.TokenIds(ids=[1, 403]), max_tokens=300,
                                     temperature=0.0, ignore_eos=True)
        stream = stub.Generate(request, timeout=TIMEOUT_S)
        first = next(stream)  # the stream is running
        process.send_signal(signal.SIGHUP)
        ids = list(first.token_ids) + [i for c in stream for i in c.token_ids]
        self.assertEqual(len(ids), 300, "the stream in flight did not finish during the drain")
        _, stderr = process.communicate(timeout=TIMEOUT_S)
        self.assertEqual(process.returncode, 0, stderr)
        self.assertIn("SIGHUP received: draining", stderr)
        channel.close()

    # --- requests ------------------------------------------------------------

    def test_duplicate_in_flight_request_id_is_already_exists(self):
        process, address = start_server(MODEL_DIR, ["--metrics-port", "-1"])
        try:
            channel = grpc.insecure_channel(address)
            stub = inference_pb2_grpc.InferenceStub(channel)
            long_request = pb.GenerateRequest(token_ids=pb.TokenIds(ids=[1, 403]), max_tokens=400,
                                              temperature=0.0, ignore_eos=True, request_id="dup")
            first = stub.Generate(long_request, timeout=TIMEOUT_S)
            next(first)
            with self.assertRaises(grpc.RpcError) as caught:
                list(stub.Generate(long_request, timeout=TIMEOUT_S))
            self.assertEqual(caught.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
            self.assertIn('request_id "dup" is already in flight', caught.exception.details())
            first.cancel()
            channel.close()
        finally:
            inference_test.stop_server(process)


if __name__ == "__main__":
    unittest.main()
