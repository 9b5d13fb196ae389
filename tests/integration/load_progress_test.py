"""tests/integration/load_progress_test.py — progress lines while the weights
load (engine/model/load_progress.h).

A random-weight bf16 Llama of Llama-3.2-1B width (2 layers, the Llama 2
vocabulary: ~375 MB) is written at test time by
../shared/scripts/make_llama1b_random.py into a temporary directory (removed
after). From the page cache it loads in well under the 1 s after which
progress is reported, so the test sets INFERD_LOAD_PROGRESS_INTERVAL_S (the
delay before the first line and between lines; set only by tests) to 0.02 s.

- `inferd serve --log-format json`: every stderr line is a JSON object; the
  "loading weights N% (...)" lines come after "loading model", before "model
  loaded", never after it; their percentages never fall, the last is 100%
  with loaded_bytes == total_bytes == GetModelInfo's weight_bytes.
- `inferd generate` prints them as "inferd generate: loading weights ...".
- stories260K (a few ms) at the default interval: no progress line at all.
"""

import json
import os
import re
import subprocess
import tempfile
import unittest
from unittest import mock

import bf16_memory_test
from bf16_memory_test import INFERD, MAKE_MODEL, SYSTEM_PYTHON
from inference_test import MODEL_DIR, TIMEOUT_S, start_server, stop_server

import grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

INTERVAL_VAR = "INFERD_LOAD_PROGRESS_INTERVAL_S"
PROGRESS = re.compile(
    r"^loading weights (\d+)% \((\d+\.\d\d) / (\d+\.\d\d) GB, (\d+\.\d) GB/s\)$")


def serve_log(model, env):
    """Starts `inferd serve --log-format json` on `model` with `env` added,
    reads GetModelInfo, stops it; returns (stderr lines as JSON objects,
    ModelInfo)."""
    with tempfile.TemporaryFile(mode="w+") as stderr, mock.patch.dict(os.environ, env):
        process, address = start_server(model, ["--log-format", "json"], stderr=stderr)
        try:
            with grpc.insecure_channel(address) as channel:
                info = inference_pb2_grpc.InferenceStub(channel).GetModelInfo(
                    pb.GetModelInfoRequest(), timeout=TIMEOUT_S)
        finally:
            code = stop_server(process)
        stderr.seek(0)
        text = stderr.read()
    if code != 0:
        raise AssertionError("inferd serve exited %r:\n%s" % (code, text))
    return [json.loads(line) for line in text.splitlines()], info


class LoadProgressTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        reason = bf16_memory_test.missing()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.TemporaryDirectory(prefix="inferd-load-progress-")
        cls.model = os.path.join(cls.tmp.name, "llama-bf16")
        result = subprocess.run(
            [SYSTEM_PYTHON, MAKE_MODEL, cls.model, "--layers", "2", "--llama2-vocab"],
            capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            cls.tmp.cleanup()
            raise RuntimeError("make_llama1b_random.py failed: " + result.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_serve_reports_progress_up_to_100_before_model_loaded(self):
        lines, info = serve_log(self.model, {INTERVAL_VAR: "0.02"})
        msgs = [line["msg"] for line in lines]
        progress = [(i, line) for i, line in enumerate(lines) if PROGRESS.match(line["msg"])]
        for _, line in progress:
            print(line["msg"])
        self.assertGreaterEqual(len(progress), 2, "\n".join(msgs))
        start = msgs.index("loading model")
        loaded = next(i for i, m in enumerate(msgs) if m.startswith("model loaded in "))
        self.assertTrue(all(start < i < loaded for i, _ in progress), "\n".join(msgs))
        percents = [line["percent"] for _, line in progress]
        self.assertEqual(percents, sorted(percents), percents)
        self.assertTrue(all(p < 100 for p in percents[:-1]), percents)
        last = progress[-1][1]
        self.assertEqual(last["percent"], 100)
        self.assertEqual(last["level"], "info")
        self.assertEqual(int(PROGRESS.match(last["msg"]).group(1)), 100)
        self.assertEqual(last["loaded_bytes"], last["total_bytes"])
        self.assertEqual(last["loaded_bytes"], info.weight_bytes)
        # The estimate made before the load is within 1% of what was loaded.
        self.assertAlmostEqual(progress[0][1]["total_bytes"], info.weight_bytes,
                               delta=0.01 * info.weight_bytes)
        self.assertGreater(last["elapsed_s"], 0)

    def test_generate_prints_plain_progress_lines(self):
        env = dict(os.environ, **{INTERVAL_VAR: "0.02"})
        result = subprocess.run(
            [INFERD, "generate", "--model", self.model, "--prompt-ids", "1,2,3",
             "--max-tokens", "2"], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        prefix = "inferd generate: "
        progress = [l[len(prefix):] for l in result.stderr.splitlines()
                    if l.startswith(prefix + "loading weights ")]
        self.assertGreaterEqual(len(progress), 2, result.stderr)
        self.assertTrue(all(PROGRESS.match(p) for p in progress), progress)
        self.assertTrue(progress[-1].startswith("loading weights 100% "), progress)

    def test_small_model_prints_no_progress(self):
        lines, _ = serve_log(MODEL_DIR, {INTERVAL_VAR: ""})
        msgs = [line["msg"] for line in lines]
        self.assertTrue(any(m.startswith("model loaded in ") for m in msgs), msgs)
        self.assertFalse([m for m in msgs if "loading weights" in m], msgs)


if __name__ == "__main__":
    unittest.main()
