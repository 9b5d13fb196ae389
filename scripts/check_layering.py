#!/usr/bin/env python3
"""scripts/check_layering.py — the folder layering (DEVELOPERS.md, "Layering"),
checked on every #include.

  check_layering.py [--root DIR]   check every .h/.cc/.cu/.cuh under DIR
                                   (default: the repo); exit 1 on a violation
  check_layering.py --table        print the rules as DEVELOPERS.md's table

Each source file and each included project header belongs to one unit
(longest matching path prefix in UNITS). A file may include headers of its
own unit and of the units its rule lists, nothing else. The rules are about
direct includes, not transitive ones: engine/model may include
engine/backend, which includes kernels/ops.h, yet engine/model may not
include kernels/ops.h itself (the device seam). A file under the root that
belongs to no unit fails too, so a new folder gets a rule before it gets
code. Includes outside the project (absl/, gtest/, ...) are not looked at.
Python 3 stdlib only; CTest runs it as LayeringTest."""

import argparse
import os
import re
import sys

# unit -> (path prefixes, what it holds). Longest prefix wins, so
# "kernels/dtype.h" is its own unit inside "kernels/".
UNITS = {
    "common": (["common/"], "helpers every layer may use"),
    "kernels/dtype.h": (["kernels/dtype.h"], "the one DType vocabulary"),
    "kernels": (["kernels/"], "ops.h and the CPU ops"),
    "kernels/cuda": (["kernels/cuda/"], "the CUDA ops"),
    "engine/backend": (["engine/backend/"], "the device seam"),
    "engine/kv_cache": (["engine/kv_cache/"], "block accounting: BlockPool, BlockHash, KvCacheManager"),
    "engine/kv_cache/kv_cache_tensors.h": (["engine/kv_cache/kv_cache_tensors.h"],
                                           "the KV memory, allocated through the backend"),
    "engine/scheduler": (["engine/scheduler/"], "the pure planner"),
    "engine/tokenizer": (["engine/tokenizer/"], "tokenizers, detokenizer"),
    "engine/request": (["engine/request.h", "engine/request.cc"],
                       "request vocabulary: SamplingParams, TokenLogprob, ..."),
    "engine/sampling": (["engine/sampling/"], "Sampler, Rng (host logits)"),
    "engine/model": (["engine/model/"], "config, loading, model definition"),
    "engine/spec_decode/model": (
        ["engine/spec_decode/medusa_heads.", "engine/spec_decode/medusa_tree.",
         "engine/spec_decode/mtp_module.", "engine/spec_decode/spec_verifier."],
        "spec_decode's model parts (inferd_spec_decode)"),
    "engine/runner": (["engine/runner/"], "ModelRunner"),
    "engine/structured_output": (["engine/structured_output/"],
                                 "constraints -> GBNF -> compiled grammar -> token masks"),
    "engine/chat": (["engine/chat/"], "chat templates: found, compiled and rendered (Jinja2)"),
    "engine/spec_decode": (["engine/spec_decode/"],
                           "spec_decode's step parts: proposers, spec_step, policy, config, factory"),
    "engine": (["engine/"], "engine proper: engine.h, engine_impl, request_state, output_channel, ..."),
    "server": (["server/"], "the daemon (auth/, metrics/, http/ included)"),
    "proto": (["proto/", "inferd/"], "the public API and its generated headers (inferd/v1/...)"),
    "tools/cli": (["tools/cli/"], "generic subcommand command lines"),
    "tools/client_security": (["tools/client_security/"], "client TLS and API-key flags"),
    "tools/inferctl": (["tools/inferctl/"], "the gRPC client"),
    "loadtest/inferload": (["loadtest/inferload/"], "the gRPC load generator"),
    "loadtest": (["loadtest/"], "in-process benchmarks"),
    "tests": (["tests/"], "tests: may include anything"),
}

ANY = "*"

# unit -> (units it may include, why). A unit may always include itself.
RULES = {
    "common": ([], "below everything"),
    "kernels/dtype.h": ([], "plain C++17, included by nvcc and every layer"),
    "kernels": (["common", "kernels/dtype.h"], "pure functions on buffers: no engine types"),
    "kernels/cuda": (["common", "kernels/dtype.h"], "no engine types"),
    "engine/backend": (["common", "kernels/dtype.h", "kernels", "kernels/cuda"],
                       "the only engine code that runs kernels on device tensors"),
    "engine/kv_cache": (["common"], "ids and counts only, testable without a model"),
    "engine/kv_cache/kv_cache_tensors.h": (["common", "kernels/dtype.h", "engine/backend"],
                                           "pools allocated through the backend"),
    "engine/scheduler": (["common", "engine/kv_cache"],
                         "pure planner: no model, runner, backend or kernels"),
    "engine/tokenizer": (["common"], "text <-> ids only"),
    "engine/request": (["common"], "plain structs, shared by sampling, spec_decode, engine, server"),
    "engine/sampling": (["common", "engine/request", "kernels/dtype.h", "kernels"],
                        "host code; kernels/ops.h only as host utilities on host logits (Argmax)"),
    "engine/model": (["common", "kernels/dtype.h", "engine/backend",
                      "engine/kv_cache/kv_cache_tensors.h"],
                     "written against the device seam: no kernels/ops.h (loader exceptions below)"),
    "engine/spec_decode/model": (["common", "kernels/dtype.h", "kernels", "engine/request",
                                  "engine/backend", "engine/kv_cache/kv_cache_tensors.h",
                                  "engine/model", "engine/sampling"],
                                 "model components and acceptance rules; kernels/ops.h as host "
                                 "utilities only"),
    "engine/runner": (["common", "kernels/dtype.h", "engine/backend", "engine/kv_cache",
                       "engine/kv_cache/kv_cache_tensors.h", "engine/model", "engine/scheduler"],
                      "plan -> batch -> forward; no sampling, no requests"),
    "engine/structured_output": (["common", "engine/request", "engine/tokenizer"],
                                 "host code over token byte strings: no model, no kernels"),
    "engine/chat": (["common", "engine/tokenizer"],
                    "messages -> prompt text: no model, no kernels, no requests"),
    "engine/spec_decode": (["common", "kernels/dtype.h", "kernels", "engine", "engine/request",
                            "engine/structured_output",
                            "engine/backend", "engine/kv_cache",
                            "engine/kv_cache/kv_cache_tensors.h", "engine/scheduler",
                            "engine/model", "engine/runner", "engine/sampling",
                            "engine/spec_decode/model", "engine/tokenizer"],
                           "one tier with engine proper (both in inferd_engine); kernels/ops.h "
                           "as host utilities only"),
    "engine": (["common", "kernels/dtype.h", "engine/request", "engine/backend",
                "engine/kv_cache", "engine/kv_cache/kv_cache_tensors.h", "engine/scheduler",
                "engine/tokenizer", "engine/sampling", "engine/model", "engine/runner",
                "engine/spec_decode/model", "engine/spec_decode", "engine/structured_output"],
               "the top of engine/; no kernels/ops.h (ops go through the backend)"),
    "server": (["common", "engine", "engine/request", "engine/tokenizer", "engine/chat", "proto",
                "tools/cli"],
               "knows requests, never tensors: engine's public headers only"),
    "proto": ([], "generated code"),
    "tools/cli": (["common"], "generic: no server, engine or proto types"),
    "tools/client_security": (["common", "tools/cli"], "client side only"),
    "tools/inferctl": (["common", "proto", "tools/cli", "tools/client_security"],
                       "a client of the public API only"),
    "loadtest/inferload": (["common", "proto", "tools/cli", "tools/client_security"],
                           "a client of the public API only"),
    "loadtest": (["common", "kernels/dtype.h", "kernels", "kernels/cuda", "engine",
                  "engine/request", "engine/tokenizer", "engine/structured_output"], "in-process benchmarks of the engine and kernels"),
    "tests": ([ANY], "tests reach into every layer"),
}

# Pairs of units that are one tier and may include each other (the only
# cycles the rules allow).
SAME_TIER = {frozenset({"engine", "engine/spec_decode"})}

# file -> (extra units it may include, why): documented host-side uses.
EXCEPTIONS = {
    "engine/model/safetensors.cc": (["kernels"], "dtype conversion at load, on the host "
                                    "before Adopt (docs/device-seam.md)"),
    "engine/model/weight_store.cc": (["kernels"], "dtype conversion at load, on the host "
                                     "before Adopt (docs/device-seam.md)"),
    "engine/model/weight.cc": (["kernels"], "quantization at load (kernels/quant_blocks.h), on "
                               "the host before Adopt (docs/quantization.md)"),
}

# Include paths whose first component is one of these are project headers.
PROJECT_ROOTS = ("common", "kernels", "engine", "server", "proto", "inferd", "tools",
                 "loadtest", "tests")
SOURCE_SUFFIXES = (".h", ".cc", ".cu", ".cuh", ".hpp", ".cpp")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<([^>]+)>)')


def unit_of(path):
    """The unit of a repo-relative path (longest prefix), or None."""
    best, best_len = None, -1
    for unit, (prefixes, _) in UNITS.items():
        for prefix in prefixes:
            if path.startswith(prefix) and len(prefix) > best_len:
                best, best_len = unit, len(prefix)
    return best


def check_rules():
    """Problems in the rule tables themselves (names, cycles)."""
    problems = []
    for unit, (allowed, _) in RULES.items():
        if unit not in UNITS:
            problems.append(f"rule for unknown unit {unit}")
        problems += [f"{unit}: may include unknown unit {a}" for a in allowed
                     if a != ANY and a not in UNITS]
    problems += [f"unit {u} has no rule" for u in UNITS if u not in RULES]
    for path, (extra, _) in EXCEPTIONS.items():
        problems += [f"exception {path}: unknown unit {a}" for a in extra if a not in UNITS]
    # Every cycle among non-test units must lie within one SAME_TIER pair.
    edges = {u: {a for a in RULES[u][0] if a in UNITS and a != u}
             for u in RULES if ANY not in RULES[u][0]}
    for a in edges:
        for b in edges:
            if a < b and _reaches(edges, a, b) and _reaches(edges, b, a) and \
                    frozenset({a, b}) not in SAME_TIER:
                problems.append(f"rules allow a cycle between {a} and {b}")
    return sorted(set(problems))


def _reaches(edges, a, b):
    stack, seen = [a], {a}
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt == b:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Hidden folders (.git, .sysroot) and build trees (build, build-asan, ...).
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and
                             not (rel_dir == "." and d.startswith("build")))
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                yield os.path.normpath(os.path.join(rel_dir, name)).replace(os.sep, "/")


def check_file(root, path):
    """Violations in one repo-relative source file, as printable lines."""
    unit = unit_of(path)
    if unit is None:
        return [f"{path}: in no unit of scripts/check_layering.py (add its folder to UNITS "
                f"and RULES, and to DEVELOPERS.md's table)"]
    allowed, why = RULES[unit]
    if ANY in allowed:
        return []
    extra = EXCEPTIONS.get(path, ([], ""))[0]
    out = []
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            header = m.group(1) or m.group(2)
            if header.split("/", 1)[0] not in PROJECT_ROOTS or "/" not in header:
                continue
            target = unit_of(header)
            if target is None or target == unit or target in allowed or target in extra:
                continue
            may = ", ".join(allowed) if allowed else "nothing but itself"
            out.append(f'{path}:{lineno}: includes "{header}" ({target}): {unit} may not '
                       f"depend on {target}. Rule: {unit} may include {may} ({why})")
    return out


def markdown_table():
    rows = ["| unit | files | may include | why |", "| --- | --- | --- | --- |"]
    for unit, (allowed, why) in RULES.items():
        prefixes, holds = UNITS[unit]
        where = ", ".join(f"`{p}`" for p in prefixes)
        may = "anything" if ANY in allowed else (
            ", ".join(f"`{a}`" for a in allowed) if allowed else "—")
        rows.append(f"| `{unit}` | {where}: {holds} | {may} | {why} |")
    for path, (extra, why) in EXCEPTIONS.items():
        rows.append(f"| exception | `{path}` | also {', '.join(f'`{a}`' for a in extra)} "
                    f"| {why} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help="tree to check (default: this repo)")
    parser.add_argument("--table", action="store_true", help="print the rules as markdown")
    args = parser.parse_args(argv)
    problems = check_rules()
    if problems:
        print("\n".join("check_layering.py: " + p for p in problems))
        return 2
    if args.table:
        print(markdown_table())
        return 0
    violations, count = [], 0
    for path in source_files(args.root):
        count += 1
        violations += check_file(args.root, path)
    if violations:
        print("\n".join(violations))
        print(f"{len(violations)} layering violation(s) in {count} files "
              "(rules: DEVELOPERS.md, Layering; scripts/check_layering.py)")
        return 1
    print(f"layering OK: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
