"""tests/integration/openai_http_test.py — the OpenAI-compatible HTTP API
(`inferd serve --http-port 0`, docs/openai-api.md) on the real daemon:

- greedy (and seeded) output over HTTP equals the gRPC output for the same
  request, non-streaming and streaming, text prompts and token ids;
- the SSE bytes (HTTP/1.1 chunked framing, `data: {...}\\n\\n` events,
  `data: [DONE]\\n\\n`, include_usage) checked byte by byte;
- chat completions through a chat template (--chat-template), equal to a
  completion of the template's text; 400 naming the missing template;
- bad inputs each get the right status, OpenAI's error object and a clear
  message, and the server keeps serving;
- a client that disconnects mid-stream aborts its request (every KV block
  free again); SIGTERM ends a running HTTP stream with a final chunk.
"""

import http.client
import json
import os
import resource
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import inference_test
import tls_certs
from inference_test import BINARY_DIR, LONG_MODEL_DIR, MODEL_DIR, SHARED_DIR, TIMEOUT_S

import grpc  # noqa: E402  (inference_test put the stubs on sys.path)
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test  # imported for its sys.path set-up

HTTP_PREFIX = "inferd: http on "
READY_PREFIX = "inferd: serving "
LLAMA3_CONFIG = os.path.join(SHARED_DIR, "tokenizers", "llama3", "tokenizer_config.json")
MAX_REQUEST_BYTES = 64 << 10


def start(model_dir, extra_args=(), stderr=None):
    """inferd serve with an HTTP port (its stderr to the file object `stderr`,
    or the test's); returns (process, grpc "HOST:PORT", http port)."""
    process = subprocess.Popen(
        [os.path.join(BINARY_DIR, "inferd"), "serve", "--model", model_dir, "--host", "127.0.0.1",
         "--port", "0", "--metrics-port", "-1", "--http-port", "0"] + list(extra_args),
        stdout=subprocess.PIPE, stderr=stderr)
    deadline = time.monotonic() + TIMEOUT_S
    fd = process.stdout.fileno()
    pending = b""
    http_port = None
    while time.monotonic() < deadline:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode().strip()
            if text.startswith(HTTP_PREFIX):
                http_port = int(text.rsplit(":", 1)[1])
            if text.startswith(READY_PREFIX):
                return process, "127.0.0.1:" + text.rsplit(":", 1)[1], http_port
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


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return None
    finally:
        process.stdout.close()


def request(port, method, path, body=None, headers=None, timeout=TIMEOUT_S):
    """(status, headers dict, body bytes) of one request on its own connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(port, path, body, **kw):
    status, headers, data = request(port, "POST", path, body,
                                    {"Content-Type": "application/json"}, **kw)
    return status, headers, data


def raw_exchange(port, data, timeout=TIMEOUT_S):
    """Sends raw bytes; returns every byte the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def raw_post(path, body, close=True):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + (b"Connection: close\r\n" if close else b"") +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def split_response(raw):
    """(status line, headers dict (lower-case names), body bytes as sent)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def dechunk(body):
    """The chunks of an HTTP/1.1 chunked body, checking the framing byte-wise;
    the terminating zero chunk must end the bytes."""
    chunks = []
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        assert sep, "no chunk-size line in %r" % body[:80]
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n", "bytes after the last chunk: %r" % rest
            return chunks
        assert rest[size:size + 2] == b"\r\n", "chunk of %d bytes not followed by CRLF" % size
        chunks.append(rest[:size])
        body = rest[size + 2:]


def sse_events(stream_bytes):
    """The `data:` payloads of an SSE stream, checking that it is exactly a
    sequence of `data: ...\\n\\n` events."""
    events = []
    text = stream_bytes.decode()
    while text:
        assert text.startswith("data: "), "an event does not start with 'data: ': %r" % text[:80]
        event, sep, text = text.partition("\n\n")
        assert sep, "an event does not end with a blank line: %r" % event[:80]
        assert "\n" not in event, "a multi-line event: %r" % event[:80]
        events.append(event[len("data: "):])
    return events


def process_threads(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(next(l for l in f if l.startswith("Threads:")).split()[1])


def grpc_generate(stub, **fields):
    chunks = list(stub.Generate(pb.GenerateRequest(**fields), timeout=TIMEOUT_S))
    ids = [i for c in chunks for i in c.token_ids]
    return "".join(c.text for c in chunks), ids, chunks[-1].finish_reason


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
class OpenAiHttpTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="inferd-openai-")
        cls.template = None
        if os.path.isfile(LLAMA3_CONFIG):
            with open(LLAMA3_CONFIG) as f:
                cls.template = json.load(f)["chat_template"]
            path = os.path.join(cls.tmp.name, "llama3.jinja")
            with open(path, "w") as f:
                f.write(cls.template)
            args = ["--chat-template", path]
        else:
            args = []
        cls.process, cls.address, cls.port = start(
            MODEL_DIR, args + ["--max-request-bytes", str(MAX_REQUEST_BYTES)])
        cls.channel = grpc.insecure_channel(cls.address)
        cls.stub = inference_pb2_grpc.InferenceStub(cls.channel)
        with open(os.path.join(MODEL_DIR, "tokenizer_config.json")) as f:
            cls.bos = json.load(f).get("bos_token", "")
            if isinstance(cls.bos, dict):
                cls.bos = cls.bos["content"]

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        code = stop(cls.process)
        cls.tmp.cleanup()
        if code != 0:
            raise RuntimeError("inferd serve did not exit 0 on SIGTERM")

    def completion(self, body, path="/v1/completions"):
        status, _, data = post(self.port, path, body)
        self.assertEqual(status, 200, data)
        return json.loads(data)

    def stream(self, body, path="/v1/completions"):
        """The events of a streaming request as parsed JSON (without [DONE])."""
        status, headers, data = post(self.port, path, dict(body, stream=True))
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("Content-Type"), "text/event-stream")
        events = sse_events(data)
        self.assertEqual(events[-1], "[DONE]")
        return [json.loads(e) for e in events[:-1]]

    def assert_serving(self):
        status, _, data = request(self.port, "GET", "/health")
        self.assertEqual(status, 200, data)
        out = self.completion({"prompt": [1, 403, 407], "max_tokens": 4, "temperature": 0})
        self.assertEqual(out["usage"]["completion_tokens"], 4)

    # --- endpoints -------------------------------------------------------

    def test_health_and_models(self):
        status, headers, data = request(self.port, "GET", "/health")
        self.assertEqual((status, json.loads(data)), (200, {}))
        status, _, data = request(self.port, "GET", "/v1/models")
        self.assertEqual(status, 200, data)
        models = json.loads(data)
        self.assertEqual(models["object"], "list")
        self.assertEqual([m["id"] for m in models["data"]], ["stories260K"])
        self.assertEqual(models["data"][0]["object"], "model")
        self.assertEqual(models["data"][0]["max_model_len"], 512)

    def test_n_choices_each_equal_grpc_with_its_seed(self):
        fields = dict(max_tokens=25, temperature=0.9, top_k=40)
        expected = [grpc_generate(self.stub, text="The dog", seed=77 + i, **fields)[0]
                    for i in range(3)]
        self.assertGreater(len(set(expected)), 1)  # the seeds differ, so do the texts
        out = self.completion(dict(fields, prompt="The dog", seed=77, n=3))
        self.assertEqual([c["index"] for c in out["choices"]], [0, 1, 2])
        self.assertEqual([c["text"] for c in out["choices"]], expected)
        self.assertEqual(out["usage"]["completion_tokens"], 75)
        prompt = self.stub.Tokenize(pb.TokenizeRequest(text="The dog"), timeout=10).token_ids
        self.assertEqual(out["usage"]["prompt_tokens"], len(prompt))  # counted once
        events = self.stream(dict(fields, prompt="The dog", seed=77, n=3,
                                  stream_options={"include_usage": True}))
        texts = ["", "", ""]
        reasons = [None] * 3
        for e in events[:-1]:
            for c in e["choices"]:
                texts[c["index"]] += c["text"]
                reasons[c["index"]] = reasons[c["index"]] or c["finish_reason"]
        self.assertEqual(texts, expected)
        self.assertEqual(reasons, ["length"] * 3)
        self.assertEqual(events[-1]["usage"], out["usage"])
        if self.template is not None:
            chat = self.completion({"messages": [{"role": "user", "content": "hi"}], "n": 2,
                                    "max_tokens": 5, "temperature": 0},
                                   path="/v1/chat/completions")
            self.assertEqual(len(chat["choices"]), 2)
            self.assertEqual(chat["choices"][0]["message"], chat["choices"][1]["message"])

    def test_tokenize_and_detokenize_equal_grpc(self):
        text = "Once upon a time, Lily"
        tokens = self.stub.Tokenize(pb.TokenizeRequest(text=text), timeout=10)
        status, _, data = post(self.port, "/tokenize", {"prompt": text, "return_token_strs": True})
        self.assertEqual(status, 200, data)
        out = json.loads(data)
        self.assertEqual(out["tokens"], list(tokens.token_ids))
        self.assertEqual(out["token_strs"], list(tokens.pieces))
        self.assertEqual((out["count"], out["max_model_len"]), (len(tokens.token_ids), 512))
        status, _, data = post(self.port, "/tokenize", {"prompt": text,
                                                        "add_special_tokens": False})
        self.assertEqual(json.loads(data)["tokens"], list(tokens.token_ids)[1:])  # no BOS
        detok = self.stub.Detokenize(pb.DetokenizeRequest(
            token_ids=tokens.token_ids, skip_special_tokens=False), timeout=10)
        status, _, data = post(self.port, "/detokenize", {"tokens": out["tokens"]})
        self.assertEqual((status, json.loads(data)), (200, {"prompt": detok.text}))
        status, _, data = post(self.port, "/detokenize", {"tokens": [1, 512]})
        self.assertEqual(status, 400, data)
        self.assertIn("tokens[1]: id 512 is outside the vocabulary", data.decode())

    def test_concurrent_streams_equal_their_solo_runs(self):
        prompts = ["Once upon a time", "The cat", "Lily and Tom", "One day"] * 4
        bodies = [{"prompt": p, "max_tokens": 30 + 3 * i, "temperature": 0.8, "seed": i}
                  for i, p in enumerate(prompts)]
        solo = ["".join(e["choices"][0]["text"] for e in self.stream(b)) for b in bodies]
        results = [None] * len(bodies)

        def run(i):
            results[i] = "".join(e["choices"][0]["text"] for e in self.stream(bodies[i]))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT_S)
        self.assertEqual(results, solo)

    def test_log_requests_writes_one_line_per_http_request(self):
        with tempfile.TemporaryFile("w+") as log:
            process, _, port = start(MODEL_DIR, ["--log-requests"], stderr=log)
            try:
                self.assertEqual(post(port, "/v1/completions", {
                    "prompt": "Once", "max_tokens": 5, "temperature": 0, "n": 2})[0], 200)
                self.assertEqual(post(port, "/v1/completions", {"prompt": 7})[0], 400)
            finally:
                self.assertEqual(stop(process), 0)
            log.seek(0)
            lines = [l for l in log.read().splitlines() if "request finished" in l]
        # One line per choice (engine request); the refused request has none.
        self.assertEqual(len(lines), 2, lines)
        for i, line in enumerate(lines):
            self.assertRegex(line, r"request_id=http-[0-9a-f]+-1-[01]\b")
            self.assertIn("completion_tokens=5", line)
            self.assertIn("finish_reason=length", line)
            self.assertIn("status=OK", line)

    def test_loading_is_503_on_every_path_but_unknown_ones(self):
        # --debug-load-delay: the HTTP port answers before the model loads.
        process = subprocess.Popen(
            [os.path.join(BINARY_DIR, "inferd"), "serve", "--model", MODEL_DIR, "--host",
             "127.0.0.1", "--port", "0", "--metrics-port", "-1", "--http-port", "0",
             "--debug-load-delay", "3"], stdout=subprocess.PIPE, text=True)
        try:
            port = None
            while port is None:
                line = process.stdout.readline()
                self.assertTrue(line, "inferd exited before its http line")
                if line.startswith(HTTP_PREFIX):
                    port = int(line.rsplit(":", 1)[1])
            for method, path, body in (("GET", "/health", None), ("GET", "/v1/models", None),
                                       ("POST", "/v1/completions", {"prompt": "x"}),
                                       ("POST", "/tokenize", {"prompt": "x"})):
                status, _, data = request(port, method, path, body)
                self.assertEqual(status, 503, "%s %s" % (path, data))
                self.assertIn("loading", json.loads(data)["error"]["message"])
            self.assertEqual(request(port, "GET", "/nothing")[0], 404)
        finally:
            process.send_signal(signal.SIGTERM)
            self.assertEqual(process.wait(timeout=30), 0)
            process.stdout.close()

    def test_served_model_name(self):
        process, _, port = start(MODEL_DIR, ["--served-model-name", "my-model"])
        try:
            status, _, data = request(port, "GET", "/v1/models")
            self.assertEqual([m["id"] for m in json.loads(data)["data"]], ["my-model"])
            status, _, data = post(port, "/v1/completions",
                                   {"model": "my-model", "prompt": "Once", "max_tokens": 2})
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data)["model"], "my-model")
            status, _, data = post(port, "/v1/completions",
                                   {"model": "stories260K", "prompt": "Once"})
            self.assertEqual(status, 404, data)
        finally:
            self.assertEqual(stop(process), 0)

    # --- HTTP equals gRPC ------------------------------------------------

    def test_greedy_output_equals_grpc(self):
        cases = [
            ({"prompt": "Once upon a time"}, {"text": "Once upon a time"}),
            ({"prompt": ["The little dog"]}, {"text": "The little dog"}),
            ({"prompt": [1, 403, 407, 261]}, {"token_ids": pb.TokenIds(ids=[1, 403, 407, 261])}),
            ({"prompt": [[1, 306]]}, {"token_ids": pb.TokenIds(ids=[1, 306])}),
        ]
        for http_fields, grpc_fields in cases:
            for max_tokens in (1, 37):
                with self.subTest(prompt=http_fields["prompt"], max_tokens=max_tokens):
                    text, ids, reason = grpc_generate(self.stub, max_tokens=max_tokens,
                                                      temperature=0.0, **grpc_fields)
                    body = dict(http_fields, max_tokens=max_tokens, temperature=0)
                    out = self.completion(body)
                    choice = out["choices"][0]
                    self.assertEqual(choice["text"], text)
                    self.assertEqual(out["usage"]["completion_tokens"], len(ids))
                    self.assertEqual(choice["finish_reason"],
                                     {pb.FINISH_REASON_LENGTH: "length"}.get(reason, "stop"))
                    events = self.stream(body)
                    self.assertEqual("".join(e["choices"][0]["text"] for e in events), text)
                    self.assertEqual(events[-1]["choices"][0]["finish_reason"],
                                     choice["finish_reason"])

    def test_seeded_sampling_and_sampling_fields_equal_grpc(self):
        fields = dict(max_tokens=40, temperature=0.9, top_p=0.95, top_k=50, min_p=0.01, seed=1234,
                      presence_penalty=0.5, frequency_penalty=0.25, repetition_penalty=1.1)
        text, ids, _ = grpc_generate(self.stub, text="Lily went", **fields)
        out = self.completion(dict(fields, prompt="Lily went"))
        self.assertEqual(out["choices"][0]["text"], text)
        self.assertEqual(out["usage"]["completion_tokens"], len(ids))
        # A stop string ends the text before it, as on gRPC.
        text, _, reason = grpc_generate(self.stub, text="Once upon a time", max_tokens=60,
                                        temperature=0.0, stop=["little"])
        self.assertEqual(reason, pb.FINISH_REASON_STOP_STRING)
        out = self.completion({"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0,
                               "stop": "little"})
        self.assertEqual(out["choices"][0]["text"], text)
        self.assertEqual(out["choices"][0]["finish_reason"], "stop")

    def test_logprobs_equal_grpc(self):
        chunks = list(self.stub.Generate(pb.GenerateRequest(
            text="Once upon a time", max_tokens=6, temperature=0.0, logprobs=3),
            timeout=TIMEOUT_S))
        grpc_lps = [lp for c in chunks for lp in c.logprobs]
        out = self.completion({"prompt": "Once upon a time", "max_tokens": 6, "temperature": 0,
                               "logprobs": 3})
        lp = out["choices"][0]["logprobs"]
        self.assertEqual(len(lp["token_logprobs"]), 6)
        for mine, theirs in zip(lp["token_logprobs"], grpc_lps):
            self.assertAlmostEqual(mine, theirs.logprob, places=5)
        self.assertEqual("".join(lp["tokens"]).lstrip(), out["choices"][0]["text"].lstrip())
        self.assertTrue(all(len(top) <= 3 and len(top) >= 1 for top in lp["top_logprobs"]))
        self.assertEqual(lp["text_offset"][0], 0)

    def test_response_format_json_schema(self):
        schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                  "additionalProperties": False}
        out = self.completion({"prompt": "Once", "max_tokens": 60, "temperature": 0,
                               "response_format": {"type": "json_schema",
                                                   "json_schema": {"name": "x", "schema": schema}}})
        text = out["choices"][0]["text"]
        if out["choices"][0]["finish_reason"] == "stop":
            value = json.loads(text)
            self.assertEqual(list(value), ["a"])
            self.assertIsInstance(value["a"], int)
        else:
            self.assertTrue(text.startswith('{"a":'), text)

    # --- SSE bytes -------------------------------------------------------

    def test_sse_framing_byte_by_byte(self):
        body = {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        raw = raw_exchange(self.port, raw_post("/v1/completions", body))
        status, headers, payload = split_response(raw)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(headers["content-type"], "text/event-stream")
        self.assertEqual(headers["transfer-encoding"], "chunked")
        self.assertNotIn("content-length", headers)
        stream = b"".join(dechunk(payload))
        self.assertTrue(stream.endswith(b"data: [DONE]\n\n"))
        events = sse_events(stream)
        self.assertEqual(events.count("[DONE]"), 1)
        chunks = [json.loads(e) for e in events[:-1]]
        usage = chunks[-1]
        self.assertEqual(usage["choices"], [])
        self.assertEqual(usage["usage"]["completion_tokens"], 12)
        self.assertEqual(usage["usage"]["total_tokens"],
                         usage["usage"]["prompt_tokens"] + 12)
        for chunk in chunks[:-1]:
            self.assertEqual(chunk["object"], "text_completion")
            self.assertIsNone(chunk["usage"])
            self.assertEqual(chunk["id"], usage["id"])
            self.assertEqual(chunk["model"], "stories260K")
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "length")
        self.assertTrue(all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2]))
        # Without include_usage: no usage key at all, and no usage chunk.
        events = self.stream({"prompt": "Once", "max_tokens": 3, "temperature": 0})
        self.assertTrue(all("usage" not in e and len(e["choices"]) == 1 for e in events))

    def test_http_1_0_stream_is_bare_events_ended_by_close(self):
        body = json.dumps({"prompt": "Once", "max_tokens": 4, "temperature": 0,
                           "stream": True}).encode()
        raw = raw_exchange(self.port, b"POST /v1/completions HTTP/1.0\r\nContent-Length: " +
                           str(len(body)).encode() + b"\r\n\r\n" + body)
        status, headers, payload = split_response(raw)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertNotIn("transfer-encoding", headers)
        self.assertEqual(headers["connection"], "close")
        events = sse_events(payload)
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual(json.loads(events[-2])["choices"][0]["finish_reason"], "length")

    def test_keep_alive_carries_requests_after_a_stream(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S)
        try:
            for stream in (True, False, True):
                connection.request("POST", "/v1/completions", body=json.dumps(
                    {"prompt": "Once", "max_tokens": 5, "temperature": 0, "stream": stream}))
                response = connection.getresponse()
                data = response.read()
                self.assertEqual(response.status, 200, data)
                if stream:
                    self.assertTrue(data.endswith(b"data: [DONE]\n\n"))
                else:
                    self.assertEqual(json.loads(data)["usage"]["completion_tokens"], 5)
        finally:
            connection.close()

    # --- chat ------------------------------------------------------------

    def test_chat_renders_the_template_and_equals_the_completion_of_its_text(self):
        if self.template is None:
            self.skipTest("../shared/tokenizers/llama3 not found")
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [{"type": "text", "text": "Tell a story "}]}]
        # The Llama 3 template by hand: bos, then per message its header, its
        # content trimmed and <|eot_id|>, then the assistant header.
        text = self.bos + "".join(
            "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>" % (m, c)
            for m, c in (("system", "Be brief."), ("user", "Tell a story"))) + \
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        expected = self.completion({"prompt": text, "max_tokens": 20, "temperature": 0,
                                    "add_special_tokens": False})
        out = self.completion({"model": "stories260K", "messages": messages, "max_tokens": 20,
                               "temperature": 0}, path="/v1/chat/completions")
        self.assertEqual(out["object"], "chat.completion")
        self.assertEqual(out["choices"][0]["message"],
                         {"role": "assistant", "content": expected["choices"][0]["text"]})
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            self.assertEqual(out["usage"][key], expected["usage"][key])
        events = self.stream({"messages": messages, "max_tokens": 20, "temperature": 0,
                              "logprobs": True, "top_logprobs": 2}, path="/v1/chat/completions")
        self.assertEqual(events[0]["object"], "chat.completion.chunk")
        self.assertEqual(events[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        self.assertEqual("".join(e["choices"][0]["delta"].get("content", "") for e in events),
                         out["choices"][0]["message"]["content"])
        content = [lp for e in events if e["choices"][0]["logprobs"]
                   for lp in e["choices"][0]["logprobs"]["content"]]
        self.assertEqual(len(content), out["usage"]["completion_tokens"])
        self.assertTrue(all(len(lp["top_logprobs"]) == 2 for lp in content))
        self.assertEqual(bytes(content[0]["bytes"]).decode("utf-8", "replace"), content[0]["token"])

    TOOLS = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"enum": ["Paris", "Rome"]}},
            "required": ["city"], "additionalProperties": False}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {
            "type": "object", "properties": {"tz": {"enum": [0, 1]}}, "required": ["tz"],
            "additionalProperties": False}}},
    ]

    def test_tool_choice_named_and_required_become_tool_calls(self):
        if self.template is None:
            self.skipTest("../shared/tokenizers/llama3 not found")
        base = {"messages": [{"role": "user", "content": "What is the weather?"}],
                "tools": self.TOOLS, "max_tokens": 60, "temperature": 0}
        named = dict(base, tool_choice={"type": "function", "function": {"name": "get_weather"}})
        out = self.completion(named, path="/v1/chat/completions")
        choice = out["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        self.assertIsNone(choice["message"]["content"])
        [call] = choice["message"]["tool_calls"]
        self.assertEqual((call["type"], call["function"]["name"]), ("function", "get_weather"))
        self.assertIn(json.loads(call["function"]["arguments"])["city"], ("Paris", "Rome"))
        # Streaming: the id and name first, then the arguments as they come.
        events = self.stream(named, path="/v1/chat/completions")
        head = events[0]["choices"][0]["delta"]["tool_calls"][0]
        self.assertEqual((head["index"], head["function"]["name"]), (0, "get_weather"))
        self.assertTrue(head["id"].startswith("call_"))
        arguments = "".join(d["function"]["arguments"] for e in events[1:]
                            for d in e["choices"][0]["delta"].get("tool_calls", []))
        self.assertEqual(arguments, call["function"]["arguments"])
        self.assertEqual(events[-1]["choices"][0]["finish_reason"], "tool_calls")
        # required, one call (parallel_tool_calls false): any of the tools.
        required = dict(base, tool_choice="required", parallel_tool_calls=False)
        out = self.completion(required, path="/v1/chat/completions")
        choice = out["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls", choice)
        [call] = choice["message"]["tool_calls"]
        arguments = json.loads(call["function"]["arguments"])
        if call["function"]["name"] == "get_weather":
            self.assertIn(arguments["city"], ("Paris", "Rome"))
        else:
            self.assertEqual(call["function"]["name"], "get_time")
            self.assertIn(arguments["tz"], (0, 1))
        events = self.stream(required, path="/v1/chat/completions")
        last = events[-1]["choices"][0]
        self.assertEqual(last["finish_reason"], "tool_calls")
        [streamed] = last["delta"]["tool_calls"]
        self.assertEqual(streamed["function"], call["function"])

    def test_chat_without_a_template_names_it(self):
        process, _, port = start(MODEL_DIR)
        try:
            status, _, data = post(port, "/v1/chat/completions",
                                   {"messages": [{"role": "user", "content": "hi"}]})
            self.assertEqual(status, 400, data)
            message = json.loads(data)["error"]["message"]
            self.assertIn("no chat template", message)
            self.assertIn("chat_template.jinja", message)
            self.assertIn("--chat-template", message)
        finally:
            self.assertEqual(stop(process), 0)

    # --- bad inputs ------------------------------------------------------

    def test_bad_inputs_get_the_right_status_and_the_server_keeps_serving(self):
        good = {"prompt": "Once", "max_tokens": 4}
        raw_rows = [
            # (what, raw request bytes, status, text in the message)
            ("malformed JSON", raw_post("/v1/completions", b'{"prompt": "x",'), 400,
             "not valid JSON"),
            ("JSON that is not an object", raw_post("/v1/completions", b'[1, 2]'), 400,
             "must be a JSON object"),
            ("invalid UTF-8 in a string", raw_post("/v1/completions", b'{"prompt": "\xff\xfe"}'),
             400, "ill-formed UTF-8"),
            ("JSON nested 1,000 deep",
             raw_post("/v1/completions", b'{"prompt": ' + b"[" * 1000 + b"]" * 1000 + b"}"), 400,
             "deeper than 64"),
            ("body over --max-request-bytes",
             raw_post("/v1/completions", json.dumps({"prompt": "a" * (MAX_REQUEST_BYTES + 1)})
                      .encode()), 413, "--max-request-bytes"),
            ("not HTTP", b"HELLO THERE\r\n\r\n", 400, "malformed HTTP request"),
            ("header over 16 KiB",
             b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431,
             "header"),
            ("header flood: 3,000 small fields",
             b"GET /health HTTP/1.1\r\nHost: x\r\n" +
             b"".join(b"X-F%d: v\r\n" % i for i in range(3000)) + b"\r\n", 431,
             "larger than 16384 bytes"),
            ("Content-Length over the limit, no body sent",
             b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 999999999\r\n\r\n", 413, "--max-request-bytes"),
            ("chunked body over --max-request-bytes",
             b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
             b"".join(b"4000\r\n" + b"a" * 0x4000 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n",
             413, "--max-request-bytes"),
            ("Content-Length not a number",
             b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400,
             "malformed HTTP request"),
            ("two different Content-Lengths",
             b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"Content-Length: 3\r\n\r\n{}", 400, "malformed HTTP request"),
            ("a bad chunk size",
             b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"zz\r\n{}\r\n0\r\n\r\n", 400, "malformed HTTP request"),
            ("an empty body", raw_post("/v1/completions", b""), 400, "not valid JSON"),
            ("a lone UTF-16 surrogate escape", raw_post("/v1/completions", b'{"prompt": "\\ud800"}'),
             400, "surrogate U+D800..U+DBFF must be followed by"),
        ]
        rows = [
            # (what, path, body, status, param, text in the message)
            ("unknown path", "/v2/nothing", good, 404, None, "no such path"),
            ("unknown field", "/v1/completions", dict(good, frobnicate=1), 400, "frobnicate",
             'unknown field "frobnicate"'),
            ("prompt of the wrong type", "/v1/completions", {"prompt": 7}, 400, "prompt",
             "prompt: expected"),
            ("missing prompt", "/v1/completions", {"max_tokens": 3}, 400, "prompt", "missing"),
            ("max_tokens a string", "/v1/completions", dict(good, max_tokens="3"), 400,
             "max_tokens", "expected an integer, got a string"),
            ("max_tokens 0", "/v1/completions", dict(good, max_tokens=0), 400, "max_tokens",
             "must be in [1,"),
            ("temperature negative", "/v1/completions", dict(good, temperature=-1), 400, None,
             "temperature"),
            ("top_p above 1", "/v1/completions", dict(good, top_p=1.5), 400, None, "top_p"),
            ("max_tokens past the context", "/v1/completions", dict(good, max_tokens=100000),
             400, None, "exceeds"),
            ("token id outside the vocabulary", "/v1/completions", {"prompt": [1, 999999]}, 400,
             None, "outside the vocabulary"),
            ("n = 0", "/v1/completions", dict(good, n=0), 400, "n", "n: must be in [1, 128]"),
            ("best_of = 2", "/v1/completions", dict(good, best_of=2), 400, "best_of",
             "not supported yet"),
            ("unknown model", "/v1/completions", dict(good, model="gpt-4"), 404, "model",
             "does not exist"),
            ("stream_options without stream", "/v1/completions",
             dict(good, stream_options={"include_usage": True}), 400, "stream_options",
             "only allowed with stream"),
            ("bad response_format type", "/v1/completions",
             dict(good, response_format={"type": "xml"}), 400, "response_format",
             "is not one of"),
            ("an empty JSON schema", "/v1/completions",
             dict(good, response_format={"type": "json_schema", "json_schema": {"name": "x"}}),
             400, "response_format", "json_schema.schema"),
            ("chat without messages", "/v1/chat/completions", {"max_tokens": 3}, 400, "messages",
             "messages: missing"),
            ("chat with a bad role", "/v1/chat/completions",
             {"messages": [{"role": "robot", "content": "x"}]}, 400, None, "robot"),
            ("tools with tool_choice auto", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": "x"}],
              "tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tool_choice",
             'tool_choice "auto"'),
            ("tool_choice naming no tool", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": "x"}],
              "tools": [{"type": "function", "function": {"name": "f"}}],
              "tool_choice": {"type": "function", "function": {"name": "g"}}}, 400,
             "tool_choice", 'no tool is named "g"'),
            ("tool_choice with response_format", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": "x"}],
              "tools": [{"type": "function", "function": {"name": "f"}}],
              "tool_choice": "required", "response_format": {"type": "json_object"}}, 400,
             "response_format", "cannot be combined"),
            ("stop of the wrong type", "/v1/completions", dict(good, stop=[1]), 400, "stop[0]",
             "expected a string"),
            ("temperature a string", "/v1/completions", dict(good, temperature="hot"), 400,
             "temperature", "expected a number"),
            ("stream not a boolean", "/v1/completions", dict(good, stream="yes"), 400, "stream",
             "expected a boolean"),
            ("seed not an integer", "/v1/completions", dict(good, seed=1.5), 400, "seed",
             "expected an integer"),
            ("n above 128", "/v1/completions", dict(good, n=129), 400, "n",
             "n: must be in [1, 128]"),
            ("logprobs above the limit", "/v1/completions", dict(good, logprobs=1000), 400,
             "logprobs", "logprobs: must be in"),
            ("an empty prompt list", "/v1/completions", {"prompt": []}, 400, "prompt", "empty"),
            ("message content a number", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": 5}]}, 400, None, "content"),
        ]
        seen = []
        for what, data, status, text in raw_rows:
            with self.subTest(what=what):
                line, headers, body = split_response(raw_exchange(self.port, data))
                self.assertTrue(line.startswith("HTTP/1.1 %d " % status), "%s: %s" % (what, line))
                error = json.loads(body[:int(headers["content-length"])])["error"]
                self.assertIn(text, error["message"])
                self.assertEqual(set(error), {"message", "type", "param", "code"})
                seen.append((what, status, error["message"]))
                self.assert_serving()
        for what, path, body, status, param, text in rows:
            with self.subTest(what=what):
                got, _, data = post(self.port, path, body)
                self.assertEqual(got, status, "%s: %s" % (what, data))
                error = json.loads(data)["error"]
                self.assertIn(text, error["message"])
                if param is not None:
                    self.assertEqual(error["param"], param)
                self.assertEqual(set(error), {"message", "type", "param", "code"})
                seen.append((what, status, error["message"]))
                self.assert_serving()
        # The wrong method on a known path: GET or DELETE of a POST path.
        for method in ("GET", "DELETE"):
            with self.subTest(what=method + " /v1/completions"):
                status, headers, data = request(self.port, method, "/v1/completions")
                self.assertEqual(status, 405, data)
                self.assertEqual(headers.get("Allow"), "POST")
                error = json.loads(data)["error"]
                self.assertIn(method, error["message"])
                seen.append((method + " of a POST path", status, error["message"]))
        for what, status, message in seen:
            print("%-34s %d  %s" % (what, status, message[:100]))
        self.assertGreaterEqual(len(seen), 25)

    def test_partial_request_does_not_hold_up_others(self):
        # A client that sent half a request (slowloris) holds only its own
        # connection: others are served meanwhile.
        with socket.create_connection(("127.0.0.1", self.port)) as slow:
            slow.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
            self.assert_serving()
            slow.sendall(b"ngth: 40\r\n\r\n{\"prompt\": \"Once\"")
            self.assert_serving()

    def test_slowloris_is_cut_off_after_the_request_read_timeout(self):
        # A header dribbled a byte a second never completes: 30 s after the
        # request began (kRequestReadTimeout) the server closes the connection,
        # and serves other clients all the while.
        header = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60
        with socket.create_connection(("127.0.0.1", self.port)) as slow:
            start_s = time.monotonic()
            closed_after = None
            for i, byte in enumerate(header):
                try:
                    slow.sendall(bytes([byte]))
                except OSError:  # reset: closed
                    closed_after = time.monotonic() - start_s
                    break
                readable, _, _ = select.select([slow], [], [], 1.0)
                if readable:
                    try:
                        got = slow.recv(4096)
                    except OSError:
                        got = b""
                    self.assertEqual(got, b"", "the server answered a partial request")
                    closed_after = time.monotonic() - start_s
                    break
                if i % 10 == 0:
                    self.assert_serving()
        self.assertIsNotNone(closed_after, "still open after %d s" % len(header))
        print("slowloris connection closed after %.1f s" % closed_after)
        self.assertGreater(closed_after, 29)
        self.assertLess(closed_after, 45)
        self.assert_serving()


KEY = "http-test-key-0123456789abcdef"


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
@unittest.skipUnless(tls_certs.have_openssl(), "the openssl command is not installed")
class OpenAiHttpSecurityTest(unittest.TestCase):
    """TLS, mutual TLS and API keys cover the HTTP port as they cover gRPC."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="inferd-openai-tls-")
        self.dir = self.tmp.name
        tls_certs.make_certs(self.dir)
        self.keys = os.path.join(self.dir, "keys.txt")
        with open(self.keys, "w") as f:
            f.write(KEY + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def https(self, port, method, path, body=None, key=None, cert=None):
        context = ssl.create_default_context(cafile=self.path("ca.crt"))
        if cert:
            context.load_cert_chain(self.path(cert + ".crt"), self.path(cert + ".key"))
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT_S,
                                                 context=context)
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        try:
            connection.request(method, path, body=json.dumps(body) if body else None,
                               headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def test_tls_and_api_keys(self):
        process, address, port = start(MODEL_DIR, [
            "--tls-cert", self.path("server.crt"), "--tls-key", self.path("server.key"),
            "--api-key-file", self.keys])
        try:
            body = {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}
            self.assertEqual(self.https(port, "GET", "/health")[0], 200)  # no key needed
            status, data = self.https(port, "POST", "/v1/completions", body)
            self.assertEqual(status, 401, data)
            error = json.loads(data)["error"]
            self.assertEqual((error["type"], error["code"]), ("authentication_error",
                                                              "invalid_api_key"))
            self.assertIn("missing API key", error["message"])
            status, data = self.https(port, "POST", "/v1/completions", body, key=KEY + "x")
            self.assertEqual(status, 401, data)
            self.assertIn("not valid", json.loads(data)["error"]["message"])
            status, data = self.https(port, "GET", "/v1/models", key="short")
            self.assertEqual(status, 401, data)
            status, data = self.https(port, "POST", "/v1/completions", body, key=KEY)
            self.assertEqual(status, 200, data)
            # The same text as gRPC over TLS with the key.
            credentials = grpc.ssl_channel_credentials(tls_certs.read(self.dir, "ca.crt"))
            with grpc.secure_channel(address, credentials) as channel:
                stub = inference_pb2_grpc.InferenceStub(channel)
                chunks = list(stub.Generate(pb.GenerateRequest(
                    text="Once upon a time", max_tokens=12, temperature=0.0), timeout=TIMEOUT_S,
                    metadata=[("authorization", "Bearer " + KEY)]))
                self.assertEqual(json.loads(data)["choices"][0]["text"],
                                 "".join(c.text for c in chunks))
            # Plain HTTP to the TLS port gets nothing, and the server goes on.
            reply = raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertFalse(reply.startswith(b"HTTP/1.1 200"), reply[:80])
            self.assertEqual(self.https(port, "GET", "/health")[0], 200)
        finally:
            self.assertEqual(stop(process), 0)

    def test_mutual_tls_needs_a_client_certificate_from_the_ca(self):
        process, _, port = start(MODEL_DIR, [
            "--tls-cert", self.path("server.crt"), "--tls-key", self.path("server.key"),
            "--tls-client-ca", self.path("ca.crt")])
        try:
            for cert in (None, "untrusted_client"):
                with self.subTest(cert=cert):
                    with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                        self.https(port, "GET", "/health", cert=cert)
            self.assertEqual(self.https(port, "GET", "/health", cert="client")[0], 200)
            status, data = self.https(port, "POST", "/v1/completions",
                                      {"prompt": "Once", "max_tokens": 3}, cert="client")
            self.assertEqual(status, 200, data)
        finally:
            self.assertEqual(stop(process), 0)


@unittest.skipUnless(os.path.isdir(LONG_MODEL_DIR),
                     "../shared/models/tiny-llama not found (set INFERD_SHARED_DIR)")
class OpenAiHttpLongStreamTest(unittest.TestCase):
    """Long streams on tiny-llama (4096 context: 4,000 tokens take seconds)."""

    def engine_state(self, stub):
        return stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10).engine

    def wait_idle(self, stub, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            e = self.engine_state(stub)
            if (e.num_live_requests == 0 and
                    e.num_kv_blocks_free == e.num_kv_blocks_total > 0):
                return e
            time.sleep(0.02)
        self.fail("engine not idle after %s s: %s" % (timeout_s, self.engine_state(stub)))

    def open_stream(self, port, max_tokens=4000, n=1):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        s.sendall(raw_post("/v1/completions", {
            "prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0,
            "ignore_eos": True, "stream": True, "n": n}, close=False))
        first = s.recv(65536)
        self.assertTrue(first.startswith(b"HTTP/1.1 200 OK"), first[:80])
        return s, first

    def test_disconnect_mid_stream_aborts_the_request_and_frees_its_blocks(self):
        process, address, port = start(LONG_MODEL_DIR)
        channel = grpc.insecure_channel(address)
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            for round_ in range(3):
                s, _ = self.open_stream(port)
                while b"data: {" not in s.recv(65536):
                    pass
                e = self.engine_state(stub)
                self.assertEqual(e.num_live_requests, 1, "round %d: %s" % (round_, e))
                start_s = time.monotonic()
                s.close()
                self.wait_idle(stub, 3)  # 4,000 tokens take about 8 s here
                print("round %d: idle %.0f ms after the disconnect" %
                      (round_, (time.monotonic() - start_s) * 1e3))
            # Several at once, one of them with n = 4, dropped together.
            sockets = [self.open_stream(port)[0] for _ in range(8)]
            sockets.append(self.open_stream(port, n=4)[0])
            self.assertEqual(self.engine_state(stub).num_live_requests, 12)
            for s in sockets:
                s.close()
            self.wait_idle(stub, 3)
        finally:
            channel.close()
            self.assertEqual(stop(process), 0)

    def test_200_clients_that_drop_mid_stream_leave_every_kv_block_free(self):
        process, address, port = start(LONG_MODEL_DIR)
        channel = grpc.insecure_channel(address)
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            sockets = [self.open_stream(port, n=1 + i % 2)[0] for i in range(200)]
            e = self.engine_state(stub)
            self.assertEqual(e.num_live_requests, 300, e)  # 100 with n = 2
            # Running from the engine's next step: on a loaded machine that can
            # come after the last stream opened.
            deadline = time.monotonic() + 5
            while e.num_running == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
                e = self.engine_state(stub)
            self.assertGreater(e.num_running, 0, e)
            start_s = time.monotonic()
            for s in sockets:
                s.close()
            e = self.wait_idle(stub, 10)
            print("200 clients (300 requests) dropped: idle after %.0f ms, %d/%d blocks free" %
                  ((time.monotonic() - start_s) * 1e3, e.num_kv_blocks_free,
                   e.num_kv_blocks_total))
            # And the server still serves.
            status, _, data = post(port, "/v1/completions", {"prompt": "Once", "max_tokens": 3})
            self.assertEqual(status, 200, data)
        finally:
            channel.close()
            self.assertEqual(stop(process), 0)

    def test_1000_concurrent_sse_streams_with_bounded_threads(self):
        want = 2 * 1000 + 200  # both ends of each connection live in this test
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < want:
            self.skipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        try:
            process, address, port = start(LONG_MODEL_DIR, ["--max-num-seqs", "256"])
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        channel = grpc.insecure_channel(address)
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            threads_idle = process_threads(process.pid)
            sockets = [self.open_stream(port, max_tokens=3000)[0] for _ in range(1000)]
            e = self.engine_state(stub)
            self.assertEqual(e.num_live_requests, 1000, e)
            threads = process_threads(process.pid)
            print("1,000 open SSE streams: %d threads (%d idle), %d running, %d waiting" %
                  (threads, threads_idle, e.num_running, e.num_waiting))
            self.assertEqual(threads, threads_idle)  # no thread per connection
            for s in sockets:
                s.close()
            self.wait_idle(stub, 20)
        finally:
            channel.close()
            self.assertEqual(stop(process), 0)

    def test_a_client_that_stops_reading_loses_its_stream(self):
        # --stream-write-timeout 1: once the socket buffers are full and a
        # write has been pending for 1 s, the request is aborted and the
        # connection closed before the stream's end.
        process, address, port = start(LONG_MODEL_DIR, ["--stream-write-timeout", "1"])
        channel = grpc.insecure_channel(address)
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.connect(("127.0.0.1", port))
            s.sendall(raw_post("/v1/completions", {
                "prompt": "Once upon a time", "max_tokens": 4000, "temperature": 0,
                "ignore_eos": True, "stream": True, "logprobs": 5}, close=False))
            self.wait_idle(stub, 20)  # the missing [DONE] below shows it was cut off
            s.settimeout(10)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertNotIn(b"[DONE]", data)  # cut off, not finished
        finally:
            channel.close()
            self.assertEqual(stop(process), 0)

    def test_sigterm_ends_a_running_stream_with_a_final_chunk(self):
        process, address, port = start(LONG_MODEL_DIR, ["--drain-timeout", "0.5"])
        try:
            s, data = self.open_stream(port)
            process.send_signal(signal.SIGTERM)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            _, headers, payload = split_response(data)
            events = sse_events(b"".join(dechunk(payload)))
            self.assertEqual(events[-1], "[DONE]")
            error = json.loads(events[-2])["error"]
            self.assertEqual(error["type"], "service_unavailable_error")
            self.assertIn("draining", error["message"])
            final = json.loads(events[-3])
            self.assertEqual(final["choices"][0]["finish_reason"], "abort")
            self.assertEqual(process.wait(timeout=30), 0)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            process.stdout.close()


if __name__ == "__main__":
    unittest.main()
