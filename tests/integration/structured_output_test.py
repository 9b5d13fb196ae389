"""tests/integration/structured_output_test.py — structured output through the
real daemon and a grpcio client (issue 18).

Every constraint kind (json_schema, json_object, regex, grammar, choice) at
temperature 1 with many seeds on stories260K (512-token sentencepiece
vocabulary with byte fallback), tiny-llama (32k) and tiny-qwen3moe (151k
byte-level BPE): every output satisfies its constraint, checked by real
validators (python3-jsonschema's `jsonschema.validate`, Python's
`re.fullmatch`, exact choice). The constraints here have bounded languages
that fit in max_tokens (a token is at least one byte), so every output must
also be complete (finish_reason stop); json_object is unbounded, so an output
cut by max_tokens (finish_reason length) is only checked to be a prefix.
Also: 16 concurrent streams (mixed kinds and unconstrained) equal their solo
runs; the same under preemption by recompute (a small KV pool); every
speculative proposer (ngram, draft model, Medusa tree, MTP) with a
constraint gives the constrained plain greedy output; bad constraints get
INVALID_ARGUMENT naming the problem and the server keeps serving; the CLIs'
flags. Server helpers come from inference_test.py.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inference_test as it  # noqa: E402  (puts <build>/python on sys.path)
import grpc  # noqa: E402
import jsonschema  # noqa: E402
from inferd.v1 import inference_pb2 as pb  # noqa: E402
from inferd.v1 import inference_pb2_grpc as pb_grpc  # noqa: E402

MODELS = os.path.join(it.SHARED_DIR, "models")
STORIES = os.path.join(MODELS, "stories260K")

# Bounded: at most ~100 bytes whatever the model picks.
PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"enum": ["red", "blue"]}, "maxItems": 3},
        "ok": {"type": "boolean"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": -99, "maximum": 99},
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number", "minimum": 0, "maximum": 9},
                           "unit": {"const": "cm"}},
            "required": ["unit"],
            "additionalProperties": False,
        },
        "kind": {"anyOf": [{"type": "null"}, {"enum": ["a", "b"]}]},
    },
    "required": ["id", "point"],
    "additionalProperties": False,
}
REGEX = r"[0-9]{3}-[a-z]{2,6}(\.[A-Z])?"
# GBNF whose language is exactly GRAMMAR_REGEX.
GRAMMAR = r'''root ::= "the " animal " is " color "!"?
animal ::= "cat" | "dog" | "fox"
color ::= ("red" | "green") ("ish")?
'''
GRAMMAR_REGEX = r"the (cat|dog|fox) is (red|green)(ish)?!?"
CHOICES = ["yes", "no", "maybe not", "Positive!"]


def schema_request(schema, **kw):
    return pb.GenerateRequest(json_schema=json.dumps(schema), **kw)


def check_json_prefix(test, text):
    """An output cut by max_tokens: what is there can still become JSON (a
    cheap necessary condition: it starts an object and never closes more
    than it opened)."""
    test.assertTrue(text.startswith("{"), text)
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            test.assertGreater(depth, 0, text)


def whitespace_outside_strings(text):
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in " \t\n\r":
            return True
    return False


class Client:
    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.InferenceStub(self.channel)

    def generate(self, request):
        """(text, token_ids, finish_reason name)."""
        return self.generate_with_usage(request)[:3]

    def generate_with_usage(self, request):
        """(text, token_ids, finish_reason name, usage)."""
        text, ids, reason, usage = "", [], None, None
        for chunk in self.stub.Generate(request, timeout=120):
            text += chunk.text
            ids += list(chunk.token_ids)
            if chunk.finish_reason:
                reason = pb.FinishReason.Name(chunk.finish_reason)
            if chunk.HasField("usage"):
                usage = chunk.usage
        return text, ids, reason, usage

    def generate_many(self, requests, workers=8):
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.generate, requests))

    def close(self):
        self.channel.close()


class ConformanceMixin:
    """Each kind, many seeds at temperature 1; subclasses set MODEL, SEEDS."""

    PROMPT = "Once upon a time"

    @classmethod
    def setUpClass(cls):
        cls.process, address = it.start_server(cls.MODEL)
        cls.client = Client(address)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        it.stop_server(cls.process)

    def run_seeds(self, max_tokens, **constraint):
        requests = [pb.GenerateRequest(text=self.PROMPT, max_tokens=max_tokens, temperature=1.0,
                                       seed=seed, **constraint) for seed in range(self.SEEDS)]
        return self.client.generate_many(requests)

    def test_json_schema_outputs_validate(self):
        for schema, whitespace in ((PERSON_SCHEMA, False), (NESTED_SCHEMA, False),
                                   (PERSON_SCHEMA, True)):
            if whitespace:  # whitespace is unbounded: a looser cap, checked when complete
                results = self.run_seeds(96, json_schema=json.dumps(schema), json_whitespace=True)
            else:
                results = self.run_seeds(128, json_schema=json.dumps(schema))
            for text, ids, reason in results:
                if reason == "FINISH_REASON_LENGTH" and whitespace:
                    check_json_prefix(self, text)
                    continue
                self.assertEqual(reason, "FINISH_REASON_STOP", text)
                jsonschema.validate(json.loads(text), schema)
                if not whitespace:
                    self.assertFalse(whitespace_outside_strings(text),
                                     f"compact JSON has whitespace outside strings: {text!r}")
                    self.assertEqual(list(json.loads(text)),
                                     [k for k in schema["properties"] if k in json.loads(text)],
                                     "properties in the schema's order")

    def test_json_object_outputs_are_objects(self):
        for text, ids, reason in self.run_seeds(48, json_object=True):
            if reason == "FINISH_REASON_STOP":
                self.assertIsInstance(json.loads(text), dict, text)
            else:
                self.assertEqual(reason, "FINISH_REASON_LENGTH")
                self.assertEqual(len(ids), 48)
                check_json_prefix(self, text)

    def test_regex_outputs_match(self):
        for text, ids, reason in self.run_seeds(32, regex=REGEX):
            self.assertEqual(reason, "FINISH_REASON_STOP", text)
            self.assertIsNotNone(re.fullmatch(REGEX, text), text)

    def test_grammar_outputs_match(self):
        for text, ids, reason in self.run_seeds(48, grammar=GRAMMAR):
            self.assertEqual(reason, "FINISH_REASON_STOP", text)
            self.assertIsNotNone(re.fullmatch(GRAMMAR_REGEX, text), text)

    def test_choice_outputs_are_one_choice(self):
        for text, ids, reason in self.run_seeds(16, choice=pb.ChoiceConstraint(choices=CHOICES)):
            self.assertEqual(reason, "FINISH_REASON_STOP", text)
            self.assertIn(text, CHOICES)


@unittest.skipUnless(os.path.isdir(STORIES), "../shared/models/stories260K not found")
class StoriesConformanceTest(ConformanceMixin, unittest.TestCase):
    MODEL = STORIES
    SEEDS = 64


@unittest.skipUnless(os.path.isdir(os.path.join(MODELS, "tiny-llama")), "tiny-llama not found")
class TinyLlamaConformanceTest(ConformanceMixin, unittest.TestCase):
    MODEL = os.path.join(MODELS, "tiny-llama")
    SEEDS = 32


@unittest.skipUnless(os.path.isdir(os.path.join(MODELS, "tiny-qwen3moe")),
                     "tiny-qwen3moe not found")
class TinyQwen3MoeConformanceTest(ConformanceMixin, unittest.TestCase):
    MODEL = os.path.join(MODELS, "tiny-qwen3moe")
    SEEDS = 32


def mixed_requests(max_tokens=64):
    """16 requests: every kind, greedy and seeded, and unconstrained ones."""
    kinds = [
        dict(json_schema=json.dumps(PERSON_SCHEMA)),
        dict(json_schema=json.dumps(NESTED_SCHEMA)),
        dict(json_object=True),
        dict(regex=REGEX),
        dict(grammar=GRAMMAR),
        dict(choice=pb.ChoiceConstraint(choices=CHOICES)),
        dict(),
        dict(json_object=True, json_whitespace=True),
    ]
    requests = []
    for i in range(16):
        sampling = dict(temperature=0.0) if i % 2 == 0 else dict(temperature=1.0, seed=100 + i)
        requests.append(pb.GenerateRequest(text="Once upon a time" + " there" * (i % 3),
                                           max_tokens=max_tokens, **sampling, **kinds[i % 8]))
    return requests


@unittest.skipUnless(os.path.isdir(STORIES), "../shared/models/stories260K not found")
class ConcurrencyTest(unittest.TestCase):

    def check_concurrent_equals_solo(self, extra_args, max_tokens, expect_preemption):
        process, address = it.start_server(STORIES, extra_args)
        client = Client(address)
        try:
            requests = mixed_requests(max_tokens)
            solo = [client.generate(r) for r in requests]
            together = client.generate_many(requests, workers=16)
            for i, (a, b) in enumerate(zip(solo, together)):
                self.assertEqual(a, b, f"request {i}: concurrent differs from solo")
            info = client.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
            self.assertTrue(info.structured_output)
            if expect_preemption:
                self.assertGreater(info.engine.num_preemptions, 0, "the workload must preempt")
        finally:
            client.close()
            it.stop_server(process)

    def test_16_concurrent_streams_equal_solo(self):
        self.check_concurrent_equals_solo([], 64, expect_preemption=False)

    def test_preemption_by_recompute_keeps_the_constraint(self):
        # 12 blocks of 16 tokens for 16 streams of up to ~200 tokens: running
        # sequences are preempted and recomputed, their matchers kept.
        self.check_concurrent_equals_solo(
            ["--kv-cache-memory", "240KiB", "--no-prefix-caching"], 160, expect_preemption=True)


SPECULATIVE = [
    ("ngram", []),
    ("draft", ["--speculative-model", os.path.join(MODELS, "stories260K-draft")]),
    ("medusa", ["--speculative-model", os.path.join(MODELS, "stories260K-medusa")]),
    ("mtp", ["--speculative-model", os.path.join(MODELS, "stories260K-mtp")]),
]


@unittest.skipUnless(os.path.isdir(STORIES), "../shared/models/stories260K not found")
class SpeculativeTest(unittest.TestCase):

    def test_each_proposer_gives_constrained_plain_greedy(self):
        prompts = ["Once upon a time", "The cat", "Lily and Tom went to the park. They"]
        constraints = [dict(json_schema=json.dumps(PERSON_SCHEMA)), dict(json_object=True),
                       dict(regex=REGEX), dict(grammar=GRAMMAR),
                       dict(choice=pb.ChoiceConstraint(choices=CHOICES))]
        requests = [pb.GenerateRequest(text=p, max_tokens=48, temperature=0.0, **c)
                    for p in prompts for c in constraints]
        process, address = it.start_server(STORIES)
        client = Client(address)
        try:
            plain = [client.generate(r) for r in requests]
        finally:
            client.close()
            it.stop_server(process)
        for name, args in SPECULATIVE:
            with self.subTest(proposer=name):
                if args and not os.path.isdir(args[1]):
                    self.skipTest(f"{args[1]} not found")
                process, address = it.start_server(
                    STORIES, ["--speculative", name, "--num-speculative-tokens", "4",
                              "--speculative-policy", "always"] + args)
                client = Client(address)
                try:
                    drafted = 0
                    for request, expected in zip(requests, plain):
                        spec = pb.GenerateRequest()
                        spec.CopyFrom(request)
                        spec.speculative.mode = pb.SpeculativeOverride.MODE_ON
                        text, ids, reason, usage = client.generate_with_usage(spec)
                        self.assertEqual((text, ids, reason), expected, f"{name}: {request}")
                        drafted += usage.draft_tokens
                    # Sampled too: the output still satisfies the constraint.
                    for seed in range(6):
                        r = pb.GenerateRequest(text=prompts[0], max_tokens=128, temperature=1.0,
                                               seed=seed, json_schema=json.dumps(PERSON_SCHEMA))
                        r.speculative.mode = pb.SpeculativeOverride.MODE_ON
                        text, ids, reason = client.generate(r)
                        self.assertEqual(reason, "FINISH_REASON_STOP", text)
                        jsonschema.validate(json.loads(text), PERSON_SCHEMA)
                    self.assertGreater(drafted, 0, f"{name} drafted nothing")
                finally:
                    client.close()
                    it.stop_server(process)


BIG_SCHEMA = json.dumps({"type": "object", "properties": {
    f"p{i}": {"type": "string", "description": "x" * 100} for i in range(5000)}})
# (request fields, text the INVALID_ARGUMENT message must contain)
BAD_CONSTRAINTS = [
    (dict(json_schema='{"type":"object",'), "not valid JSON"),
    (dict(json_schema='[1,2]'), "must be an object or a boolean"),
    (dict(json_schema='{"type":"integer","minimum":5,"maximum":3}'), "minimum > maximum"),
    (dict(json_schema='{"type":"string","minLength":5,"maxLength":2}'), "maxLength < minLength"),
    (dict(json_schema='{"enum":[]}'), "unsatisfiable"),
    (dict(json_schema='{"allOf":[{"type":"string"},{"type":"integer"}]}'), "unsatisfiable"),
    (dict(json_schema='{"type":"object","required":["a"],"properties":{"a":false}}'),
     "required property 'a' is not allowed"),
    (dict(json_schema='{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},'
                      '"b":{"$ref":"#/$defs/a"}}}'), "cycle"),
    (dict(json_schema='{"$ref":"#/$defs/missing"}'), "points nowhere"),
    (dict(json_schema='{"type":"array","uniqueItems":true}'), "'uniqueItems' at the root"),
    (dict(json_schema='{"type":"object","properties":{"x":{"not":{"type":"string"}}}}'),
     "'not' at /properties/x"),
    (dict(json_schema='{"type":"object","properties":{"t":{"type":"array","uniqueItems":true}}}'),
     "'uniqueItems' at /properties/t"),
    (dict(json_schema='{"type":"object","properties":{"a":{"type":"integer","multipleOf":0.3}}}'),
     "'multipleOf' at /properties/a"),
    (dict(json_schema='{"type":"frobnicate"}'), "unknown type"),
    (dict(json_schema='{"type":"string","pattern":"(unclosed"}'), "unclosed group"),
    (dict(json_schema=BIG_SCHEMA), "the limit is"),
    (dict(regex="(abc"), "unclosed group"),
    (dict(regex="[z-a]"), "range out of order"),
    (dict(regex="a{5,2}"), "n < m"),
    (dict(regex="*a"), "nothing to repeat"),
    (dict(regex="a\\"), "trailing backslash"),
    (dict(regex="(a|aa)*b(?=c)"), "lookaround"),
    (dict(regex="((a|b|c|d){1000}){1000}"), "more than"),
    (dict(grammar='root ::= foo'), "undefined rule 'foo'"),
    (dict(grammar='start ::= "a"'), "no 'root' rule"),
    (dict(grammar='root ::= root "a"'), "left recursion"),
    (dict(grammar='root ::= "abc'), "unterminated string"),
    (dict(grammar='root ::= [a-'), "unterminated character class"),
    (dict(choice=pb.ChoiceConstraint(choices=[])), "at least one choice"),
    (dict(choice=pb.ChoiceConstraint(choices=["a", ""])), "choices[1]"),
    (dict(json_object=False), "json_object"),
    (dict(regex="abc", json_whitespace=True), "json_whitespace"),
]


@unittest.skipUnless(os.path.isdir(STORIES), "../shared/models/stories260K not found")
class BadConstraintTest(unittest.TestCase):

    def test_bad_constraints_are_invalid_argument_and_the_server_stays_up(self):
        self.assertGreaterEqual(len(BAD_CONSTRAINTS), 20)
        process, address = it.start_server(STORIES)
        client = Client(address)
        try:
            for fields, expected in BAD_CONSTRAINTS:
                with self.subTest(constraint=str(fields)[:80]):
                    request = pb.GenerateRequest(text="Once", max_tokens=8, **fields)
                    with self.assertRaises(grpc.RpcError) as caught:
                        client.generate(request)
                    self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                    self.assertIn(expected, caught.exception.details())
            text, ids, reason = client.generate(
                pb.GenerateRequest(text="Once", max_tokens=8, temperature=0.0))
            self.assertEqual(len(ids), 8)
            self.assertIsNone(process.poll())
        finally:
            client.close()
            it.stop_server(process)


@unittest.skipUnless(os.path.isdir(STORIES), "../shared/models/stories260K not found")
class CliTest(unittest.TestCase):

    def test_inferd_generate_json_schema(self):
        out = subprocess.run(
            [os.path.join(it.BINARY_DIR, "inferd"), "generate", "--model", STORIES,
             "--prompt", "Once upon a time", "--max-tokens", "128", "--temperature", "1",
             "--seed", "7", "--json-schema", json.dumps(PERSON_SCHEMA), "--json"],
            capture_output=True, text=True, timeout=120, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(result["finish_reason"], "stop")
        jsonschema.validate(json.loads(result["text"]), PERSON_SCHEMA)

    def test_inferctl_generate_choice(self):
        process, address = it.start_server(STORIES)
        try:
            for seed in range(4):
                out = subprocess.run(
                    [os.path.join(it.BINARY_DIR, "inferctl"), "generate", "--addr", address,
                     "--temperature", "1", "--seed", str(seed), "--choice", "a", "--choice", "b",
                     "--json", "Once upon a time"],
                    capture_output=True, text=True, timeout=60, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                self.assertIn(result["text"], ["a", "b"])
                self.assertEqual(result["finish_reason"], "stop")
            bad = subprocess.run(
                [os.path.join(it.BINARY_DIR, "inferctl"), "generate", "--addr", address,
                 "--regex", "(x", "Once"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("unclosed group", bad.stderr)
        finally:
            it.stop_server(process)


if __name__ == "__main__":
    unittest.main()
