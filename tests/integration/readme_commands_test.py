"""tests/integration/readme_commands_test.py — the README's commands, run as written.

Each test takes a fenced block (found by its `<!-- marker -->` comment) or a
line from README.md and runs it in a scratch directory laid out like the
repository root: build/{inferd,inferctl,inferload,python} link to the build
directory, examples/ and loadtest/ to the sources. The only changes made to
a command are the ports: `inferd serve` gets `--port 0 --metrics-port -1
--http-port -1`, and clients get the port it chose (`--addr`). Also here: what gRPC's own log
lines look like in `--log-format text` (README "Logs").
Environment as inference_test.py.
"""

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inference_test  # noqa: E402
import tls_certs  # noqa: E402
from inference_test import BINARY_DIR, SOURCE_DIR, MODEL_DIR, TIMEOUT_S  # noqa: E402
from inference_test import inference_pb2, inference_pb2_grpc  # noqa: E402
import grpc  # noqa: E402

README = os.path.join(SOURCE_DIR, "README.md")


def readme():
    with open(README) as f:
        return f.read()


def block_after(marker):
    """The lines of the first fenced block after `<!-- marker` in the README."""
    text = readme()
    start = text.find("<!-- " + marker)
    if start < 0:
        raise AssertionError("README.md has no <!-- %s --> marker" % marker)
    match = re.compile(r"```[a-z]*\n(.*?)```", re.S).search(text, start)
    return match.group(1)


def command_lines(block):
    """Shell lines of a block: comments and blank lines dropped, `\\` joined."""
    lines, pending = [], ""
    for line in block.splitlines():
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    return lines


def make_workdir(test):
    """A scratch directory laid out like the repository root (see the module doc)."""
    work = tempfile.mkdtemp(prefix="inferd-readme-")
    test.addCleanup(shutil.rmtree, work, True)
    os.mkdir(os.path.join(work, "build"))
    for name in ("inferd", "inferctl", "inferload", "python"):
        os.symlink(os.path.join(BINARY_DIR, name), os.path.join(work, "build", name))
    for name in ("examples", "loadtest"):
        os.symlink(os.path.join(SOURCE_DIR, name), os.path.join(work, name))
    return work


def split_command(line):
    """(environment assignments, argv) of one shell line; a trailing `&` dropped."""
    words = shlex.split(line)
    if words and words[-1] == "&":
        words.pop()
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def with_addr(argv, addr):
    """argv with its --addr set to `addr` (replaced, or added after the subcommand/script)."""
    argv = list(argv)
    if "--addr" in argv:
        argv[argv.index("--addr") + 1] = addr
        return argv
    at = next(i for i, word in enumerate(argv)
              if word in ("generate", "health", "tokenize", "info") or word.endswith(".py")) + 1
    return argv[:at] + ["--addr", addr] + argv[at:]


def start_serve(test, line, cwd, stderr):
    """Starts the README's `build/inferd serve ...` line on free ports; returns the address."""
    env, argv = split_command(line)
    test.assertEqual(argv[:2], ["build/inferd", "serve"], line)
    process = subprocess.Popen(argv + ["--port", "0", "--metrics-port", "-1", "--http-port", "-1"],
                               cwd=cwd, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                               stderr=stderr)

    def stop():
        if inference_test.stop_server(process) != 0:
            raise AssertionError("inferd serve did not exit 0 on SIGTERM")
    test.addCleanup(stop)
    deadline = time.monotonic() + TIMEOUT_S
    fd, pending = process.stdout.fileno(), b""
    while time.monotonic() < deadline:
        for text in pending.decode().splitlines(True):
            if text.startswith(inference_test.READY_PREFIX) and text.endswith("\n"):
                return "127.0.0.1:" + text.strip().rsplit(":", 1)[1]
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            break
        pending += chunk
    raise AssertionError("%s printed no ready line: %r" % (line, pending))


def run_client(line, cwd, addr):
    env, argv = split_command(line)
    return subprocess.run(with_addr(argv, addr), cwd=cwd, env=dict(os.environ, **env),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S,
                          universal_newlines=True)


def greedy_text(addr, prompt, max_tokens):
    channel = grpc.insecure_channel(addr)
    try:
        stub = inference_pb2_grpc.InferenceStub(channel)
        request = inference_pb2.GenerateRequest(text=prompt, max_tokens=max_tokens,
                                                temperature=0.0)
        return "".join(c.text for c in stub.Generate(request, timeout=TIMEOUT_S))
    finally:
        channel.close()


@unittest.skipUnless(os.path.isdir(MODEL_DIR),
                     "../shared/models/stories260K not found (set INFERD_SHARED_DIR)")
class ReadmeCommandsTest(unittest.TestCase):

    def test_python_example_as_the_readme_shows(self):
        work = make_workdir(self)
        serve, example = command_lines(block_after("python-example"))
        addr = start_serve(self, serve, work, subprocess.DEVNULL)
        self.assertTrue(example.startswith(
            "PYTHONPATH=build/python /usr/bin/python3 examples/python/generate.py "), example)
        result = run_client(example, work, addr)
        self.assertEqual(result.returncode, 0, result.stderr)
        info, text = result.stdout.split("\n", 1)
        self.assertEqual(info, "model: stories260K (LlamaForCausalLM), vocab 512, context 512")
        # The example's defaults: greedy, 64 tokens.
        self.assertEqual(text, greedy_text(addr, "Once upon a time", 64) + "\n")
        self.assertIn("completion_tokens: 64", result.stderr)
        # An unreachable server: exit 1, the code on stderr.
        failed = run_client(example, work, "127.0.0.1:1")
        self.assertEqual(failed.returncode, 1, failed.stderr)
        self.assertIn("UNAVAILABLE", failed.stderr)

    @unittest.skipUnless(tls_certs.have_openssl(), "openssl not found")
    def test_tls_commands_as_the_readme_shows(self):
        work = make_workdir(self)
        made = subprocess.run(["bash", "-e", "-c", block_after("tls-commands")], cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                              universal_newlines=True)
        self.assertEqual(made.returncode, 0, made.stdout)
        for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key",
                     "keys.txt"):
            self.assertTrue(os.path.getsize(os.path.join(work, "build", "tls", name)), name)
        serve, *clients = command_lines(block_after("tls-usage"))
        addr = start_serve(self, serve, work, subprocess.DEVNULL)
        self.assertEqual(len(clients), 2)
        expected = greedy_text_tls(work, addr, "Once upon a time", 64)
        for line in clients:
            result = run_client(line, work, addr)
            self.assertEqual(result.returncode, 0, line + "\n" + result.stderr)
            self.assertTrue(result.stdout.strip(), line)
            if "generate.py" in line:
                self.assertEqual(result.stdout, expected + "\n")
        # The same client without its certificate, or without the key, is refused.
        no_cert = run_client(re.sub(r" --tls-cert \S+ --tls-key \S+", "", clients[0]), work,
                             addr)
        self.assertEqual(no_cert.returncode, 1)
        self.assertEqual(no_cert.stdout, "")
        no_key = run_client(clients[0].replace(" --api-key-file build/tls/keys.txt", ""), work,
                            addr)
        self.assertEqual(no_key.returncode, 1)
        self.assertIn("UNAUTHENTICATED", no_key.stderr)

        # The README's warning: a CN-only certificate fails against 127.0.0.1.
        tls = os.path.join(work, "build", "tls")
        cn_only = ("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                   "-keyout cn.key -out cn.csr -subj /CN=localhost && openssl x509 -req "
                   "-in cn.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out cn.crt")
        subprocess.run(["bash", "-e", "-c", cn_only], cwd=tls, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cn_addr = start_serve(
            self, "build/inferd serve --tls-cert build/tls/cn.crt --tls-key build/tls/cn.key &",
            work, subprocess.DEVNULL)
        refused = run_client("build/inferctl generate --tls-ca build/tls/ca.crt --timeout 10 Hi",
                             work, cn_addr)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("Peer name 127.0.0.1 is not in peer certificate", refused.stderr)

    def test_inferload_sample_trace_as_the_readme_shows(self):
        if not os.path.exists(os.path.join(BINARY_DIR, "inferload")):
            self.skipTest("inferload not built")
        work = make_workdir(self)
        line = next(l for l in readme().splitlines()
                    if l.startswith("build/inferload ") and "--trace loadtest/traces/" in l)
        addr = start_serve(self, "build/inferd serve &", work, subprocess.DEVNULL)
        out = os.path.join(work, "run.json")
        result = run_client(line + " --json-out " + out, work, addr)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("inferload result", result.stdout)
        with open(out) as f:
            report = json.load(f)
        trace = shlex.split(line)[shlex.split(line).index("--trace") + 1]
        with open(os.path.join(SOURCE_DIR, trace)) as f:
            lines = [l for l in f if l.strip()]
        self.assertEqual(report["completed"], len(lines))
        self.assertEqual(report["errors"], {})

    @unittest.skipUnless(tls_certs.have_openssl(), "openssl not found")
    def test_grpc_log_lines_in_text_mode_look_as_the_readme_says(self):
        # A plaintext client on a TLS port makes gRPC log a handshake error.
        certs = tempfile.mkdtemp(prefix="inferd-certs-")
        self.addCleanup(shutil.rmtree, certs, True)
        tls_certs.make_certs(certs)
        log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(log.close)
        serve = "build/inferd serve --tls-cert %s/server.crt --tls-key %s/server.key &" % (
            certs, certs)
        addr = start_serve(self, serve, make_workdir(self), log)
        channel = grpc.insecure_channel(addr)
        with self.assertRaises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(channel).result(timeout=2)
        channel.close()
        deadline = time.monotonic() + 10
        # README "Logs": E<MMDD> <HH:MM:SS.nnnnnnnnn> <thread id> <file:line>] <message>
        pattern = re.compile(r"^E\d{4} \d\d:\d\d:\d\d\.\d{9} +\d+ [a-z_]+\.cc:\d+\] +"
                             r"Handshake failed with fatal error SSL_ERROR_SSL: .*$", re.M)
        while time.monotonic() < deadline:
            log.seek(0)
            text = log.read()
            if pattern.search(text):
                break
            time.sleep(0.1)
        self.assertRegex(text, pattern)
        # Every other stderr line is the daemon's own "inferd: ..." line.
        for line in text.splitlines():
            self.assertTrue(line.startswith("inferd: ") or pattern.match(line), line)


def greedy_text_tls(work, addr, prompt, max_tokens):
    """greedy_text over the README's mutual TLS with its API key."""
    tls = os.path.join(work, "build", "tls")

    def read(name):
        with open(os.path.join(tls, name), "rb") as f:
            return f.read()
    credentials = grpc.ssl_channel_credentials(read("ca.crt"), read("client.key"),
                                               read("client.crt"))
    key = read("keys.txt").decode().split()[0]
    channel = grpc.secure_channel(addr, credentials)
    try:
        stub = inference_pb2_grpc.InferenceStub(channel)
        request = inference_pb2.GenerateRequest(text=prompt, max_tokens=max_tokens,
                                                temperature=0.0)
        chunks = stub.Generate(request, timeout=TIMEOUT_S,
                               metadata=[("authorization", "Bearer " + key)])
        return "".join(c.text for c in chunks)
    finally:
        channel.close()


if __name__ == "__main__":
    unittest.main()
