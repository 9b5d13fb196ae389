"""tests/integration/security_test.py — TLS, mutual TLS and API keys from a
Python grpcio client, against the real daemon with certificates made by
openssl for the test (tls_certs.py). The C++ side of the same checks, with the
limits and the logs, is security_test.cc.
"""

import os
import tempfile
import unittest

import inference_test
from inference_test import MODEL_DIR, TIMEOUT_S, start_server, stop_server
import tls_certs

import grpc  # noqa: E402  (inference_test put the stubs on sys.path)
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from inferd.v1 import inference_pb2  # noqa: E402
from inferd.v1 import inference_pb2_grpc  # noqa: E402

KEY = "python-test-key-0123456789abcdef"
# Its own TCP connection per channel (no subchannel shared between channels).
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
REQUEST = inference_pb2.GenerateRequest(
    token_ids=inference_pb2.TokenIds(ids=[1, 403, 407]), max_tokens=8, temperature=0.0)

assert inference_test  # imported for its sys.path set-up


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
@unittest.skipUnless(tls_certs.have_openssl(), "the openssl command is not installed")
class SecurityTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="inferd-py-tls-")
        tls_certs.make_certs(self.dir.name)
        self.key_file = os.path.join(self.dir.name, "keys.txt")
        with open(self.key_file, "w") as f:
            f.write("# keys\n%s\n" % KEY)
        self.process = None

    def tearDown(self):
        if self.process is not None:
            self.assertEqual(stop_server(self.process), 0)
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def start(self, *extra):
        args = ["--tls-cert", self.path("server.crt"), "--tls-key", self.path("server.key")]
        self.process, self.address = start_server(MODEL_DIR, args + list(extra))

    def channel(self, cert=None, root="ca.crt"):
        creds = grpc.ssl_channel_credentials(
            root_certificates=tls_certs.read(self.dir.name, root),
            private_key=tls_certs.read(self.dir.name, cert + ".key") if cert else None,
            certificate_chain=tls_certs.read(self.dir.name, cert + ".crt") if cert else None)
        return grpc.secure_channel(self.address, creds, options=OWN_CONNECTION)

    def generate(self, channel, metadata=None):
        stub = inference_pb2_grpc.InferenceStub(channel)
        return [i for c in stub.Generate(REQUEST, timeout=TIMEOUT_S, metadata=metadata)
                for i in c.token_ids]

    def health(self, channel, timeout=10):
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout).status

    def assert_refused(self, call, codes):
        with self.assertRaises(grpc.RpcError) as raised:
            call()
        self.assertIn(raised.exception.code(), codes, raised.exception.details())
        return raised.exception

    def test_tls_serves_and_plaintext_client_fails(self):
        self.start()
        with self.channel() as channel:
            ids = self.generate(channel)
            self.assertEqual(len(ids), 8)
        with grpc.insecure_channel(self.address, options=OWN_CONNECTION) as plaintext:
            self.assert_refused(lambda: self.health(plaintext, timeout=3),
                                (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))
        with self.channel(root="other_ca.crt") as distrustful:
            self.assert_refused(lambda: self.health(distrustful, timeout=3),
                                (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))
        with self.channel() as channel:  # still serving
            self.assertEqual(self.generate(channel), ids)

    def test_mutual_tls_needs_a_client_certificate_from_the_ca(self):
        self.start("--tls-client-ca", self.path("ca.crt"))
        for cert in (None, "untrusted_client"):
            with self.channel(cert=cert) as refused:
                self.assert_refused(lambda: self.generate(refused),
                                    (grpc.StatusCode.UNAVAILABLE,))
        with self.channel(cert="client") as channel:
            self.assertEqual(self.health(channel), health_pb2.HealthCheckResponse.SERVING)
            self.assertEqual(len(self.generate(channel)), 8)

    def test_api_key_missing_wrong_wrong_scheme_and_right(self):
        self.start("--api-key-file", self.key_file)
        with self.channel() as channel:
            self.assertEqual(self.health(channel), health_pb2.HealthCheckResponse.SERVING)
            for metadata in (None, [("authorization", "Bearer wrong-key-0000000000000")],
                             [("authorization", "Basic " + KEY)], [("authorization", KEY)]):
                error = self.assert_refused(lambda: self.generate(channel, metadata),
                                            (grpc.StatusCode.UNAUTHENTICATED,))
                self.assertIn("a valid API key is required", error.details())
                self.assertNotIn(KEY, error.details())
            stub = inference_pb2_grpc.InferenceStub(channel)
            self.assert_refused(
                lambda: stub.GetModelInfo(inference_pb2.GetModelInfoRequest(), timeout=10),
                (grpc.StatusCode.UNAUTHENTICATED,))
            self.assertEqual(len(self.generate(channel, [("authorization", "Bearer " + KEY)])), 8)
        # Call credentials: grpcio attaches "Bearer <key>" to every call itself.
        creds = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(tls_certs.read(self.dir.name, "ca.crt")),
            grpc.access_token_call_credentials(KEY))
        with grpc.secure_channel(self.address, creds, options=OWN_CONNECTION) as keyed:
            info = inference_pb2_grpc.InferenceStub(keyed).GetModelInfo(
                inference_pb2.GetModelInfoRequest(), timeout=10)
            self.assertEqual(info.model_name, "stories260K")


if __name__ == "__main__":
    unittest.main()
