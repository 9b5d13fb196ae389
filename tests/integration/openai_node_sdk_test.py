"""tests/integration/openai_node_sdk_test.py — clients other than our own
against the OpenAI-compatible HTTP API of the real daemon on 127.0.0.1:

- the official OpenAI Node SDK (npm package `openai`, the version
  tests/integration/node/package-lock.json pins, installed there by
  scripts/setup.sh with `npm ci`) runs node/openai_sdk_test.mjs: models,
  chat and completions streaming and not, n = 3, response_format with a JSON
  schema, a named tool choice, logprobs, and errors as the SDK's error classes;
- curl (Debian's) shows the raw SSE bytes as a client receives them: `data: `
  lines each ended by a blank line, `data: [DONE]` last.

Skips, naming why, without node, without tests/integration/node/node_modules
(run scripts/setup.sh), or without curl. Environment as inference_test.py.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import openai_http_test
from inference_test import MODEL_DIR, SHARED_DIR, SOURCE_DIR

NODE_DIR = os.path.join(SOURCE_DIR, "tests", "integration", "node")
LLAMA3_CONFIG = os.path.join(SHARED_DIR, "tokenizers", "llama3", "tokenizer_config.json")
MODEL = "stories260K"


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
class OpenAiNodeSdkTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="inferd-openai-node-")
        args = []
        cls.chat = os.path.isfile(LLAMA3_CONFIG)
        if cls.chat:  # stories260K has no chat template of its own
            with open(LLAMA3_CONFIG) as f:
                template = json.load(f)["chat_template"]
            path = os.path.join(cls.tmp.name, "llama3.jinja")
            with open(path, "w") as f:
                f.write(template)
            args = ["--chat-template", path]
        cls.process, _, cls.port = openai_http_test.start(MODEL_DIR, args)

    @classmethod
    def tearDownClass(cls):
        code = openai_http_test.stop(cls.process)
        cls.tmp.cleanup()
        if code != 0:
            raise RuntimeError("inferd serve did not exit 0 on SIGTERM")

    # --- the OpenAI Node SDK ----------------------------------------------

    def test_openai_node_sdk(self):
        node = shutil.which("node")
        if node is None:
            self.skipTest("node is not installed (scripts/setup.sh installs Debian's nodejs)")
        sdk = os.path.join(NODE_DIR, "node_modules", "openai", "package.json")
        if not os.path.isfile(sdk):
            self.skipTest("tests/integration/node/node_modules has no openai package "
                          "(run scripts/setup.sh, or npm ci in tests/integration/node)")
        with open(sdk) as f:
            installed = json.load(f)["version"]
        with open(os.path.join(NODE_DIR, "package-lock.json")) as f:
            pinned = json.load(f)["packages"]["node_modules/openai"]["version"]
        self.assertEqual(installed, pinned,
                         "node_modules holds openai %s, the lockfile pins %s (npm ci again)"
                         % (installed, pinned))
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        env = dict(os.environ, INFERD_OPENAI_BASE_URL="http://127.0.0.1:%d/v1" % self.port,
                   INFERD_MODEL=MODEL, INFERD_CHAT="1" if self.chat else "0", NO_COLOR="1")
        result = subprocess.run([node, "openai_sdk_test.mjs"], cwd=NODE_DIR, env=env,
                                capture_output=True, text=True, timeout=240)
        print("node %s, openai %s\n%s%s" % (version.strip(), installed, result.stdout,
                                              result.stderr))
        self.assertEqual(result.returncode, 0, "the Node SDK test failed (output above)")
        # node:test's summary: every case ran (none skipped when chat is on).
        summary = dict(line[2:].split(" ", 1) for line in result.stdout.splitlines()
                       if line.startswith("# ") and line[2:].split(" ", 1)[0] in
                       ("tests", "pass", "fail", "skipped"))
        self.assertEqual(int(summary.get("fail", "-1")), 0, summary)
        self.assertEqual(int(summary.get("pass", "0")), int(summary.get("tests", "-1")) -
                         int(summary.get("skipped", "0")), summary)
        if self.chat:
            self.assertEqual(int(summary.get("skipped", "0")), 0, summary)

    # --- curl: the raw SSE bytes --------------------------------------------

    def curl(self, path, body, *extra):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl is not installed (Debian: apt-get install curl)")
        headers = os.path.join(self.tmp.name, "headers.txt")
        result = subprocess.run(
            [curl, "-sS", "--no-buffer", "--http1.1", "-D", headers, "-H",
             "Content-Type: application/json", "--data-binary", json.dumps(body), *extra,
             "http://127.0.0.1:%d%s" % (self.port, path)], capture_output=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(headers, "rb") as f:
            lines = f.read().decode().split("\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        return lines[0], fields, result.stdout

    def assert_sse(self, status, headers, data):
        """The events of `data`, checking it is exactly `data: ...\\n\\n`
        events ending with `data: [DONE]\\n\\n`."""
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(headers["content-type"], "text/event-stream")
        self.assertEqual(headers["transfer-encoding"], "chunked")
        self.assertEqual(headers["cache-control"], "no-cache")
        self.assertTrue(data.endswith(b"\n\ndata: [DONE]\n\n"), data[-80:])
        self.assertNotIn(b"\r", data)
        events = openai_http_test.sse_events(data)
        self.assertEqual(events.count("[DONE]"), 1)
        return [json.loads(e) for e in events[:-1]]

    def test_curl_sees_sse_data_lines_and_done(self):
        status, headers, data = self.curl("/v1/completions", {
            "model": MODEL, "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}})
        print(data.decode())
        chunks = self.assert_sse(status, headers, data)
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 8)
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "length")
        # The same text as the non-streaming answer, through curl too.
        status, headers, data = self.curl("/v1/completions", {
            "model": MODEL, "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(data)["choices"][0]["text"],
                         "".join(c["choices"][0]["text"] for c in chunks[:-1]))
        if self.chat:
            status, headers, data = self.curl("/v1/chat/completions", {
                "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6,
                "temperature": 0, "stream": True})
            chunks = self.assert_sse(status, headers, data)
            self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
            self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))

    def test_curl_error_is_the_openai_error_object(self):
        status, headers, data = self.curl("/v1/completions", {
            "model": "gpt-4", "prompt": "x", "stream": True})
        self.assertEqual(status, "HTTP/1.1 404 Not Found")
        self.assertEqual(headers["content-type"], "application/json")
        error = json.loads(data)["error"]
        self.assertEqual((error["param"], error["code"]), ("model", "model_not_found"))
        self.assertIn("gpt-4", error["message"])


if __name__ == "__main__":
    unittest.main()
