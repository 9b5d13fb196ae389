"""tests/integration/flag_bounds_test.py — every numeric flag of the four
binaries, and every numeric config.json field, with values a typo or a
hostile script would give; each must end cleanly, naming what is wrong.

For each flag of `inferd serve`, `inferd generate`, `inferctl generate` and
`inferload`, the values 0, -1, 2147483647, 1e300, 99999999999999999999 and
"abc" are tried on the real binary. A value listed in VALID must work (serve
reaches "inferd: serving" and drains on SIGTERM with exit 0; the others exit
0); every other value must be refused with exit 1 or 2 and a message naming
the flag (or, for a value only the server checks, the request field). No run
may crash (a signal, "terminate called", a sanitizer report) or hang.

The flags are read from each binary's --help, so a numeric flag added later
is walked too: a flag whose default is a number and that the test does not
know fails the test until it is listed here.

config.json: each numeric field of stories260K's config, set to a huge and to
a negative value, must stop `inferd generate` with exit 1 and a message naming
the field (or, for sizes that pass their own range check, the check of the
config against the checkpoint).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import inference_test
from inference_test import BINARY_DIR, MODEL_DIR, start_server, stop_server

assert inference_test

INFERD = os.path.join(BINARY_DIR, "inferd")
INFERCTL = os.path.join(BINARY_DIR, "inferctl")
INFERLOAD = os.path.join(BINARY_DIR, "inferload")

VALUES = ["0", "-1", "2147483647", "1e300", "99999999999999999999", "abc"]

# Numeric flags per binary and the values (of VALUES) each accepts.
SERVE = {
    "port": {"0"},
    "metrics-port": {"0", "-1"},
    "http-port": {"0", "-1"},
    "max-num-seqs": set(),
    "max-num-batched-tokens": set(),
    "kv-cache-memory": {"2147483647"},  # bytes: 2 GiB
    "block-size": set(),
    "max-queue-len": set(),
    "num-threads": {"0"},
    "max-num-partial-prefills": set(),
    "drain-timeout": {"0"},
    "watchdog-timeout": {"0"},
    "stream-write-timeout": {"0"},
    "max-request-bytes": {"2147483647"},
    "max-tokens-limit": {"0", "2147483647"},  # 0: the context; more is capped to it
    "max-streams-per-connection": {"2147483647"},  # the HTTP/2 maximum
    "debug-load-delay": {"0"},
    "num-speculative-tokens": set(),
    "max-model-len": {"0"},  # 0: auto (the context, capped to the KV budget)
    "gpu-memory-utilization": set(),  # a fraction in (0, 1]
}
ENGINE_FLAGS = {k: v for k, v in SERVE.items() if k in (
    "max-num-seqs", "max-num-batched-tokens", "kv-cache-memory", "block-size", "num-threads",
    "max-num-partial-prefills", "num-speculative-tokens", "max-model-len",
    "gpu-memory-utilization")}
GENERATE = dict(ENGINE_FLAGS, **{
    "max-tokens": set(),  # 0, and past the 512-token context
    "temperature": {"0", "2147483647", "99999999999999999999"},  # any finite value >= 0
    "top-k": {"0", "2147483647"},  # 0: off; >= vocab: off
    "top-p": set(),
    "min-p": {"0"},
    "seed": {"0", "2147483647"},
})
INFERCTL_GENERATE = {
    "timeout": {"0"},
    "max-tokens": set(),
    "temperature": {"0", "2147483647", "99999999999999999999"},
    "seed": {"0", "2147483647"},
}
INFERLOAD_FLAGS = {
    "num-requests": set(),
    "request-rate": {"2147483647", "1e300", "99999999999999999999"},  # requests per second; inf too
    "concurrency": set(),
    "burstiness": {"2147483647", "1e300", "99999999999999999999"},  # any finite value > 0
    "input-len": set(),
    "output-len": set(),
    "input-len-range": {"0"},
    "output-len-range": {"0"},
    "num-prefixes": set(),
    "prefix-len": set(),
    "suffix-len": set(),
    "slo-ttft": {"2147483647", "1e300", "99999999999999999999"},
    "slo-tpot": {"2147483647", "1e300", "99999999999999999999"},
    "seed": {"0", "2147483647"},
    "max-duration": set(),
    "priority": {"0", "-1", "2147483647"},
    "temperature": {"0", "2147483647", "99999999999999999999"},
}
# config.json fields of HF's training side that inferd never reads: any
# value loads.
IGNORED_FIELDS = ("attention_dropout", "initializer_range", "pretraining_tp")
CRASH_MARKERS = ("terminate called", "AddressSanitizer", "UndefinedBehaviorSanitizer",
                 "ThreadSanitizer", "Aborted", "core dumped", "Segmentation fault")


def help_flags(command):
    """{flag: default} from `command --help` (defaults as printed; "" if none)."""
    text = subprocess.run(command + ["--help"], capture_output=True, text=True,
                          timeout=30).stdout
    flags = {}
    for match in re.finditer(r"^  --([a-z0-9-]+)\n      (.*?)$", text, re.M):
        default = re.search(r"\(default: ([^)]*)\)$", match.group(2))
        flags[match.group(1)] = default.group(1) if default else ""
    return flags


def looks_numeric(default):
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?([KMGT]i?B?)?", default) is not None


class FlagBoundsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(MODEL_DIR):
            raise unittest.SkipTest("../shared/models/stories260K not found")

    def setUp(self):
        self.failures = []
        self.rows = 0

    def check_known(self, command, known):
        """Every flag with a numeric default is in `known` (a new one must be added)."""
        for flag, default in help_flags(command).items():
            if looks_numeric(default):
                self.assertIn(flag, known, "%s --%s (default %s) is numeric: add it to "
                              "flag_bounds_test.py" % (" ".join(command), flag, default))

    def record(self, what, result, valid, flag, field=None):
        """Checks one finished run; collects failures to report them all at once."""
        self.rows += 1
        out = (result.stdout or "") + (result.stderr or "")
        crashed = result.returncode < 0 or result.returncode >= 128 or any(
            m in out for m in CRASH_MARKERS)
        if crashed:
            self.failures.append("%s: crashed (exit %d): %s" % (what, result.returncode,
                                                               out[-400:]))
        elif valid and result.returncode != 0:
            self.failures.append("%s: should work, exit %d: %s" % (what, result.returncode,
                                                                  out[-300:]))
        elif not valid:
            names = ["--" + flag] + ([field] if field else [])
            if result.returncode not in (1, 2):
                self.failures.append("%s: should be refused, exit %d" % (what, result.returncode))
            elif not any(n in result.stderr for n in names):
                self.failures.append("%s: the message does not name %s: %s" % (
                    what, " or ".join(names), result.stderr.strip()[-300:]))
            elif len([l for l in result.stderr.splitlines() if l.strip()]) > 3:
                self.failures.append("%s: more than a short message: %s" % (
                    what, result.stderr[-500:]))

    def report(self):
        print("%d runs" % self.rows)
        self.assertEqual(self.failures, [], "\n".join(self.failures))

    # --- inferd serve ------------------------------------------------------

    def run_serve(self, flag, value):
        """Runs serve with --flag value: the exit of a refused start, or the
        exit after SIGTERM of one that reached "inferd: serving"."""
        command = [INFERD, "serve", "--model", MODEL_DIR, "--host", "127.0.0.1", "--port", "0",
                   "--metrics-port", "-1", "--http-port", "-1", "--drain-timeout", "5",
                   "--" + flag, value]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        stdout = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break  # exited
            stdout += line
            if line.startswith("inferd: serving"):
                process.send_signal(signal.SIGTERM)
                break
        try:
            rest, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, stderr = process.communicate()
            stderr += "\n(hung: killed)"
        return subprocess.CompletedProcess(command, process.returncode, stdout + rest, stderr)

    def test_serve_numeric_flags(self):
        self.check_known([INFERD, "serve"], SERVE)
        for flag, valid in SERVE.items():
            for value in VALUES:
                self.record("serve --%s %s" % (flag, value), self.run_serve(flag, value),
                            value in valid, flag)
        self.report()

    # --- inferd generate ---------------------------------------------------

    def test_generate_numeric_flags(self):
        self.check_known([INFERD, "generate"], GENERATE)
        for flag, valid in GENERATE.items():
            for value in VALUES:
                command = [INFERD, "generate", "--model", MODEL_DIR, "--prompt-ids", "1,403,407",
                           "--max-tokens", "4", "--temperature", "0", "--" + flag, value]
                result = subprocess.run(command, capture_output=True, text=True, timeout=120)
                self.record("generate --%s %s" % (flag, value), result, value in valid, flag,
                            flag.replace("-", "_"))
        self.report()

    # --- the clients, against one server ------------------------------------

    def test_client_numeric_flags(self):
        process, address = start_server(MODEL_DIR, [])
        try:
            self.check_known([INFERCTL, "generate"], INFERCTL_GENERATE)
            for flag, valid in INFERCTL_GENERATE.items():
                for value in VALUES:
                    command = [INFERCTL, "generate", "--addr", address, "--max-tokens", "4",
                               "--temperature", "0", "--" + flag, value, "Once"]
                    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
                    self.record("inferctl generate --%s %s" % (flag, value), result,
                                value in valid, flag, flag.replace("-", "_"))
            self.check_known([INFERLOAD], INFERLOAD_FLAGS)
            for flag, valid in INFERLOAD_FLAGS.items():
                for value in VALUES:
                    base = ["--addr", address, "--num-requests", "2", "--no-progress",
                            "--output-len", "2", "--max-duration", "60"]
                    if flag in ("request-rate", "burstiness"):
                        base += ["--request-rate", "100"]
                    else:
                        base += ["--concurrency", "2"]
                    if flag in ("num-prefixes", "prefix-len", "suffix-len"):
                        base += ["--workload", "shared-prefix", "--num-prefixes", "1",
                                 "--prefix-len", "4", "--suffix-len", "2"]
                    else:
                        base += ["--input-len", "4"]
                    result = subprocess.run([INFERLOAD] + base + ["--" + flag, value],
                                            capture_output=True, text=True, timeout=120)
                    self.record("inferload --%s %s" % (flag, value), result, value in valid, flag)
            for address_value in ("127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:-1",
                                  "127.0.0.1:abc", "127.0.0.1", "::1:50051"):
                for command in ([INFERCTL, "health"], [INFERLOAD, "--concurrency", "1",
                                                       "--num-requests", "1"]):
                    result = subprocess.run(command + ["--addr", address_value],
                                            capture_output=True, text=True, timeout=60)
                    self.record("%s --addr %s" % (os.path.basename(command[0]), address_value),
                                result, False, "addr")
        finally:
            self.assertEqual(stop_server(process), 0)
        self.report()

    # --- config.json --------------------------------------------------------

    def test_config_numeric_fields(self):
        with open(os.path.join(MODEL_DIR, "config.json")) as f:
            config = json.load(f)
        fields = [k for k, v in config.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)]
        self.assertIn("num_hidden_layers", fields)
        with tempfile.TemporaryDirectory(prefix="inferd-config-bounds-") as tmp:
            model = os.path.join(tmp, "m")
            shutil.copytree(MODEL_DIR, model)
            for name in os.listdir(model):
                os.chmod(os.path.join(model, name), 0o644)
            for field in fields:
                for value in (10**9, 2**31 - 1, 2**63 - 1, -1, -(2**40), 1e300):
                    changed = dict(config, **{field: value})
                    with open(os.path.join(model, "config.json"), "w") as f:
                        json.dump(changed, f)
                    command = [INFERD, "generate", "--model", model, "--prompt-ids", "1,403",
                               "--max-tokens", "2", "--temperature", "0"]
                    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
                    what = "config.json %s: %s" % (field, value)
                    # A field whose huge value is legal (a long context, a large rope_theta,
                    # token ids) may load; a refusal must name the field or the check of the
                    # sizes against the checkpoint, and nothing may crash.
                    self.rows += 1
                    out = result.stdout + result.stderr
                    if result.returncode < 0 or result.returncode >= 128 or any(
                            m in out for m in CRASH_MARKERS):
                        self.failures.append("%s: crashed (exit %d): %s" % (
                            what, result.returncode, out[-400:]))
                    elif result.returncode != 0 and not (
                            "`%s`" % field in result.stderr or
                            "config.json: field `" in result.stderr or
                            "config.json implies" in result.stderr or
                            "has shape" in result.stderr or
                            "kv_cache_memory" in result.stderr):
                        self.failures.append("%s: the message names neither the field nor the "
                                             "size check: %s" % (what, result.stderr[-300:]))
                    elif result.returncode == 0 and field not in IGNORED_FIELDS and (
                            value < 0 or field in (
                            "num_hidden_layers", "hidden_size", "vocab_size",
                            "num_attention_heads", "intermediate_size")):
                        self.failures.append("%s: loaded" % what)
        self.report()


if __name__ == "__main__":
    unittest.main()
