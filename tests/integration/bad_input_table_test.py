"""tests/integration/bad_input_table_test.py — the bad-input table of
docs/security.md, produced by trying each input on the real daemon.

Three servers: A plaintext with the default limits, B with TLS and API keys,
C with mutual TLS. Each row sends one bad input (a malformed protobuf as raw
bytes, an out-of-range field, a huge prompt, invalid UTF-8, unknown token ids,
a missing or wrong key, a plaintext or certificate-less client) and records the
status the client observed; then it checks that the server still serves (health
SERVING and an 8-token Generate). Corrupt model files and bad security files
are tried on `inferd serve` at start-up: they must stop it with an error
naming the problem. The test fails when a row's status is not the expected one
or the server stopped serving; it writes the table as Markdown to
$INFERD_BINARY_DIR/bad_input_table.md and prints it.
"""

import math
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import inference_test
from inference_test import BINARY_DIR, MODEL_DIR, TIMEOUT_S, start_server, stop_server
import tls_certs

import grpc  # noqa: E402  (inference_test put the stubs on sys.path)
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

assert inference_test  # imported for its sys.path set-up

KEY = "table-test-key-0123456789abcdef"
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
GOOD = pb.GenerateRequest(token_ids=pb.TokenIds(ids=[1, 403, 407]), max_tokens=8,
                          temperature=0.0)
C = grpc.StatusCode
PARSE_FAILED = C.INVALID_ARGUMENT  # parsed by inferd itself (server/request_parsing.h)


def request(**fields):
    """GOOD with `fields` set (a prompt given replaces the token ids)."""
    r = pb.GenerateRequest()
    r.CopyFrom(GOOD)
    for name, value in fields.items():
        if name == "ids":
            r.token_ids.CopyFrom(pb.TokenIds(ids=value))
        elif name == "stop":
            r.stop.extend(value)
        elif name == "stop_token_ids":
            r.stop_token_ids.extend(value)
        elif name == "speculative":
            r.speculative.CopyFrom(value)
        else:
            setattr(r, name, value)
    return r


def short(text, n=110):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
@unittest.skipUnless(tls_certs.have_openssl(), "the openssl command is not installed")
class BadInputTableTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="inferd-bad-input-")
        self.dir = self.tmp.name
        tls_certs.make_certs(self.dir)
        self.key_file = os.path.join(self.dir, "keys.txt")
        with open(self.key_file, "w") as f:
            f.write(KEY + "\n")
        self.rows = []
        self.processes = []

    def tearDown(self):
        for process in self.processes:
            self.assertEqual(stop_server(process), 0)
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def tls(self, cert=None):
        return grpc.ssl_channel_credentials(
            tls_certs.read(self.dir, "ca.crt"),
            tls_certs.read(self.dir, cert + ".key") if cert else None,
            tls_certs.read(self.dir, cert + ".crt") if cert else None)

    def start(self, *args):
        process, address = start_server(MODEL_DIR, list(args))
        self.processes.append(process)
        return address

    # --- what each row observes ------------------------------------------

    def observe(self, call):
        """(code name, details, ms) of one call."""
        start = time.monotonic()
        try:
            call()
            code, details = C.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
        return code, details, (time.monotonic() - start) * 1e3

    def serving(self, channel, metadata=None):
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10)
        stub = inference_pb2_grpc.InferenceStub(channel)
        ids = [i for c in stub.Generate(GOOD, timeout=TIMEOUT_S, metadata=metadata)
               for i in c.token_ids]
        return health.status == health_pb2.HealthCheckResponse.SERVING and len(ids) == 8

    def row(self, category, what, expected, call, check_channel, check_metadata=None):
        code, details, ms = self.observe(call)
        kept = self.serving(check_channel, check_metadata)
        self.rows.append((category, what, code.name, short(details), "%.0f" % ms,
                          "yes" if kept else "NO"))
        self.assertIn(code, expected if isinstance(expected, tuple) else (expected,),
                      "%s: %s %s" % (what, code, details))
        self.assertTrue(kept, "%s: the server stopped serving" % what)

    def start_row(self, category, what, args, model_dir=MODEL_DIR, expected_exit=None):
        """`inferd serve` that must refuse to start; records its error line."""
        command = [os.path.join(BINARY_DIR, "inferd"), "serve", "--model", model_dir,
                   "--host", "127.0.0.1", "--port", "0", "--metrics-port", "-1",
                   "--http-port", "-1"] + list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        lines = [l for l in result.stderr.splitlines() if "error" in l] or [result.stderr]
        # The message without the line prefix and the temporary directory.
        message = lines[-1].replace("inferd: error: ", "").replace(self.dir + "/", "")
        self.rows.append((category, what, "exit %d" % result.returncode, short(message, 200),
                          "", "refused to start"))
        self.assertNotEqual(result.returncode, 0, what)
        if expected_exit is not None:
            self.assertEqual(result.returncode, expected_exit, result.stderr)
        self.assertNotIn("inferd: serving", result.stdout, what)

    # --- the table --------------------------------------------------------

    def test_bad_inputs_are_refused_and_the_server_keeps_serving(self):
        a = grpc.insecure_channel(self.start(), options=OWN_CONNECTION)
        stub = inference_pb2_grpc.InferenceStub(a)
        generate = lambda r: list(stub.Generate(r, timeout=TIMEOUT_S))  # noqa: E731
        raw_generate = a.unary_stream("/inferd.v1.Inference/Generate")
        raw_tokenize = a.unary_unary("/inferd.v1.Inference/Tokenize")

        def raw(data):
            return lambda: list(raw_generate(data, timeout=TIMEOUT_S))

        proto = "malformed protobuf"
        for what, data in [
                ("random bytes ff ff ff ff", b"\xff\xff\xff\xff"),
                ("truncated varint (max_tokens tag, no value)", b"\x28"),
                ("length prefix past the end (text, 255 bytes announced)", b"\x12\xff\x01abc"),
                ("truncated varint inside token_ids", b"\x1a\x03\x08\x80\x80"),
                ("text as a varint (wrong wire type: kept as an unknown field)", b"\x10\x01"),
                ("empty message", b"")]:
            expected = C.INVALID_ARGUMENT if what.startswith(("text as", "empty")) else PARSE_FAILED
            self.row(proto, what, expected, raw(data), a)
        utf8 = "invalid UTF-8"
        self.row(utf8, "Generate text bytes c3 28", PARSE_FAILED, raw(b"\x12\x02\xc3\x28"), a)
        self.row(utf8, "Tokenize text bytes c3 28", PARSE_FAILED,
                 lambda: raw_tokenize(b"\x0a\x02\xc3\x28", timeout=TIMEOUT_S), a)
        self.row(utf8, "stop string bytes ff fe", PARSE_FAILED,
                 raw(GOOD.SerializeToString() + b"\x72\x02\xff\xfe"), a)

        sampling = "out-of-range sampling"
        for what, fields in [
                ("temperature -1", dict(temperature=-1.0)),
                ("temperature NaN", dict(temperature=math.nan)),
                ("temperature inf", dict(temperature=math.inf)),
                ("top_p 0", dict(top_p=0.0)),
                ("top_p 1.5", dict(top_p=1.5)),
                ("top_k -1", dict(top_k=-1)),
                ("min_p 2", dict(min_p=2.0)),
                ("repetition_penalty 0", dict(repetition_penalty=0.0)),
                ("presence_penalty 3", dict(presence_penalty=3.0)),
                ("frequency_penalty -3", dict(frequency_penalty=-3.0)),
                ("max_tokens 0", dict(max_tokens=0)),
                ("max_tokens -5", dict(max_tokens=-5)),
                ("logprobs 21", dict(logprobs=21)),
                ("logprobs -1", dict(logprobs=-1)),
                ("speculative.mode 99", dict(speculative=pb.SpeculativeOverride(mode=99))),
                ("speculative.num_speculative_tokens 1000",
                 dict(speculative=pb.SpeculativeOverride(num_speculative_tokens=1000)))]:
            self.row(sampling, what, C.INVALID_ARGUMENT, lambda r=request(**fields): generate(r), a)

        limits = "request limits"
        for what, fields in [
                ("17 stop strings", dict(stop=["s%d" % i for i in range(17)])),
                ("a 257-byte stop string", dict(stop=["s" * 257])),
                ("an empty stop string", dict(stop=[""])),
                ("65 stop_token_ids", dict(stop_token_ids=[5] * 65)),
                ("request_id of 257 bytes", dict(request_id="x" * 257))]:
            self.row(limits, what, C.INVALID_ARGUMENT, lambda r=request(**fields): generate(r), a)

        prompts = "prompts and token ids"
        self.row(prompts, "5 MiB text prompt (over --max-request-bytes 4 MiB)",
                 C.RESOURCE_EXHAUSTED, lambda: generate(request(text="a" * (5 << 20))), a)
        self.row(prompts, "1 MiB text prompt without a space (tokenized, then over the context)",
                 C.INVALID_ARGUMENT, lambda: generate(request(text="a" * (1 << 20))), a)
        for what, fields in [
                ("600 token ids (context 512)", dict(ids=[100] * 600)),
                ("500 ids + max_tokens 100 (beyond the context)",
                 dict(ids=[100] * 500, max_tokens=100)),
                ("token id -1", dict(ids=[1, -1])),
                ("token id 512 (= vocab size)", dict(ids=[1, 512])),
                ("token id 2^31-1", dict(ids=[1, 2**31 - 1])),
                ("empty token_ids", dict(ids=[])),
                ("empty text with add_special_tokens false",
                 dict(text="", add_special_tokens=False)),
                ("stop_token_ids 100000", dict(stop_token_ids=[100000]))]:
            self.row(prompts, what, C.INVALID_ARGUMENT, lambda r=request(**fields): generate(r), a)
        for ids in ([-5], [10**6]):
            self.row(prompts, "Detokenize id %d" % ids[0], C.INVALID_ARGUMENT,
                     lambda ids=ids: stub.Detokenize(pb.DetokenizeRequest(token_ids=ids),
                                                     timeout=TIMEOUT_S), a)

        # B: TLS and API keys.
        address_b = self.start("--tls-cert", self.path("server.crt"), "--tls-key",
                               self.path("server.key"), "--api-key-file", self.key_file)
        b = grpc.secure_channel(address_b, self.tls(), options=OWN_CONNECTION)
        good_key = [("authorization", "Bearer " + KEY)]
        stub_b = inference_pb2_grpc.InferenceStub(b)
        auth = "authentication"
        for what, metadata in [
                ("no authorization metadata", None),
                ("wrong API key", [("authorization", "Bearer wrong-key-000000000000000")]),
                ("right key, wrong scheme (Basic)", [("authorization", "Basic " + KEY)]),
                ("right key without a scheme", [("authorization", KEY)]),
                ("two authorization values (right and wrong)",
                 [("authorization", "Bearer " + KEY), ("authorization", "Bearer nope")])]:
            self.row(auth, "Generate: " + what, C.UNAUTHENTICATED,
                     lambda m=metadata: list(stub_b.Generate(GOOD, timeout=TIMEOUT_S, metadata=m)),
                     b, good_key)
        self.row(auth, "GetModelInfo without a key", C.UNAUTHENTICATED,
                 lambda: stub_b.GetModelInfo(pb.GetModelInfoRequest(), timeout=TIMEOUT_S),
                 b, good_key)
        plaintext = grpc.insecure_channel(address_b, options=OWN_CONNECTION)
        self.row(auth, "plaintext client against the TLS port", (C.UNAVAILABLE,),
                 lambda: health_pb2_grpc.HealthStub(plaintext).Check(
                     health_pb2.HealthCheckRequest(), timeout=5), b, good_key)
        plaintext.close()

        # C: mutual TLS.
        address_c = self.start("--tls-cert", self.path("server.crt"), "--tls-key",
                               self.path("server.key"), "--tls-client-ca", self.path("ca.crt"))
        c = grpc.secure_channel(address_c, self.tls("client"), options=OWN_CONNECTION)
        for what, cert in [("mutual TLS: client without a certificate", None),
                           ("mutual TLS: certificate from an untrusted CA", "untrusted_client")]:
            refused = grpc.secure_channel(address_c, self.tls(cert), options=OWN_CONNECTION)
            self.row(auth, what, C.UNAVAILABLE,
                     lambda r=refused: list(inference_pb2_grpc.InferenceStub(r).Generate(
                         GOOD, timeout=10)), c)
            refused.close()

        # Start-up: corrupt model files and bad security files.
        model = "corrupt model files"

        def broken_model(name, change):
            d = os.path.join(self.dir, name)
            shutil.copytree(MODEL_DIR, d)
            for f in os.listdir(d):
                os.chmod(os.path.join(d, f), 0o644)
            change(d)
            return d

        def truncate(path, size):
            with open(path, "r+b") as f:
                f.truncate(size)

        def overwrite(path, data, offset=0):
            with open(path, "r+b") as f:
                f.seek(offset)
                f.write(data)

        st = "model.safetensors"
        for what, change in [
                ("model.safetensors truncated to half",
                 lambda d: truncate(os.path.join(d, st), os.path.getsize(os.path.join(d, st)) // 2)),
                ("model.safetensors header length 2^60",
                 lambda d: overwrite(os.path.join(d, st), (1 << 60).to_bytes(8, "little"))),
                ("model.safetensors header not JSON",
                 lambda d: overwrite(os.path.join(d, st), b"{garbage", 8)),
                ("model.safetensors missing", lambda d: os.remove(os.path.join(d, st))),
                ("config.json not JSON",
                 lambda d: open(os.path.join(d, "config.json"), "w").write("{not json")),
                ("tokenizer.json and tokenizer.model garbage",
                 lambda d: [open(os.path.join(d, t), "w").write("garbage")
                            for t in ("tokenizer.json", "tokenizer.model")])]:
            self.start_row(model, what, [], broken_model("m%d" % len(self.rows), change),
                           expected_exit=1)
        garbage = self.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        short_keys = self.path("short_keys.txt")
        with open(short_keys, "w") as f:
            f.write("short-secret\n")
        startup = "security files"
        tls_args = ["--tls-cert", self.path("server.crt"), "--tls-key", self.path("server.key")]
        self.start_row(startup, "--tls-cert not PEM",
                       ["--tls-cert", garbage, "--tls-key", self.path("server.key")],
                       expected_exit=2)
        self.start_row(startup, "--tls-key of another certificate",
                       ["--tls-cert", self.path("server.crt"), "--tls-key",
                        self.path("client.key")], expected_exit=2)
        self.start_row(startup, "--api-key-file with a 12-character key",
                       tls_args + ["--api-key-file", short_keys], expected_exit=2)
        self.start_row(startup, "--api-key-file without TLS", ["--api-key-file", self.key_file],
                       expected_exit=2)

        for channel in (a, b, c):
            channel.close()
        self.write_table()
        self.assertGreaterEqual(len(self.rows), 30)

    def write_table(self):
        lines = ["| # | kind | input | status | message (trimmed) | ms | server kept serving |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for i, (category, what, code, details, ms, kept) in enumerate(self.rows, 1):
            cells = [str(i), category, what, code, details.replace("|", "\\|"), ms, kept]
            lines.append("| " + " | ".join(cells) + " |")
        table = "\n".join(lines) + "\n"
        with open(os.path.join(BINARY_DIR, "bad_input_table.md"), "w") as f:
            f.write(table)
        print("\n" + table)


if __name__ == "__main__":
    unittest.main()
