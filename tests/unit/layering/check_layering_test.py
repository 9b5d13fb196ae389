#!/usr/bin/env python3
"""tests/unit/layering/check_layering_test.py — scripts/check_layering.py on
tiny fake trees (one clean, several with one violation each), and its rules
table against DEVELOPERS.md. CTest: LayeringCheckerTest (label unit)."""

import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
CHECKER = os.path.join(REPO, "scripts", "check_layering.py")

CLEAN = {
    "common/check.h": "#pragma once\n",
    "kernels/dtype.h": "#pragma once\n",
    "kernels/ops.h": '#include "kernels/dtype.h"\n',
    "engine/backend/backend.h": '#include "kernels/dtype.h"\n#include "absl/status/status.h"\n',
    "engine/backend/cpu_backend.cc": '#include "kernels/ops.h"\n#include "common/check.h"\n',
    "engine/kv_cache/kv_cache_manager.h": '#include "common/check.h"\n',
    "engine/kv_cache/kv_cache_tensors.h": '#include "engine/backend/backend.h"\n',
    "engine/scheduler/scheduler.cc": ('#include "engine/kv_cache/kv_cache_manager.h"\n'
                                      "#include <vector>\n"),
    "engine/model/transformer.h": ('#include "engine/backend/backend.h"\n'
                                   '#include "engine/kv_cache/kv_cache_tensors.h"\n'
                                   '#include "kernels/dtype.h"\n'),
    "engine/model/safetensors.cc": '#include "kernels/ops.h"\n',
    "engine/engine.cc": ('#include "engine/model/transformer.h"\n'
                         '#include "engine/scheduler/scheduler.h"\n'),
    "server/serve_command.cc": '#include "engine/engine.h"\n#include "inferd/v1/inference.pb.h"\n',
    "tests/unit/anything_test.cc": '#include "kernels/cuda/cuda_ops.h"\n',
    # Not looked at: build trees and hidden folders.
    "build/gen/stray.cc": '#include "server/flags.h"\n',
    ".sysroot/include/x.h": '#include "server/flags.h"\n',
}


def run(files):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        proc = subprocess.run([sys.executable, CHECKER, "--root", root],
                              capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout + proc.stderr


class CheckLayeringTest(unittest.TestCase):
    def test_clean_tree_passes(self):
        rc, out = run(CLEAN)
        self.assertEqual(rc, 0, out)
        self.assertIn("layering OK: 13 files", out)

    def assert_one_violation(self, path, text, header, rule):
        rc, out = run({**CLEAN, path: text})
        self.assertEqual(rc, 1, out)
        self.assertIn("1 layering violation(s)", out)
        self.assertIn(f'{path}:2: includes "{header}"', out)
        self.assertIn(rule, out)

    def test_scheduler_including_the_model_fails(self):
        self.assert_one_violation(
            "engine/scheduler/scheduler.cc",
            '#include "engine/kv_cache/kv_cache_manager.h"\n#include "engine/model/transformer.h"\n',
            "engine/model/transformer.h", "engine/scheduler may not depend on engine/model")

    def test_scheduler_including_the_kv_memory_fails(self):
        self.assert_one_violation(
            "engine/scheduler/scheduler.h",
            '#pragma once\n#include "engine/kv_cache/kv_cache_tensors.h"\n',
            "engine/kv_cache/kv_cache_tensors.h",
            "engine/scheduler may not depend on engine/kv_cache/kv_cache_tensors.h")

    def test_model_code_calling_kernels_directly_fails(self):
        self.assert_one_violation(
            "engine/model/transformer.cc",
            '#include "engine/model/transformer.h"\n#  include "kernels/ops.h"\n',
            "kernels/ops.h", "engine/model may not depend on kernels")

    def test_backwards_include_fails(self):
        self.assert_one_violation(
            "kernels/cpu/matmul.cc", '#include "kernels/ops.h"\n#include "engine/engine.h"\n',
            "engine/engine.h", "kernels may not depend on engine")

    def test_server_seeing_tensors_fails(self):
        self.assert_one_violation(
            "server/inference_service.cc",
            '#include "engine/engine.h"\n#include <engine/backend/tensor.h>\n',
            "engine/backend/tensor.h", "server may not depend on engine/backend")

    def test_engine_including_cuda_headers_fails(self):
        self.assert_one_violation(
            "engine/engine.cc", '#include "engine/engine.h"\n#include "kernels/cuda/device_info.h"\n',
            "kernels/cuda/device_info.h", "engine may not depend on kernels/cuda")

    def test_file_in_no_unit_fails(self):
        rc, out = run({**CLEAN, "newfolder/thing.cc": '#include "common/check.h"\n'})
        self.assertEqual(rc, 1, out)
        self.assertIn("newfolder/thing.cc: in no unit", out)

    def test_table_in_developers_md_matches_the_rules(self):
        table = subprocess.run([sys.executable, CHECKER, "--table"], capture_output=True,
                               text=True, check=True).stdout.strip()
        with open(os.path.join(REPO, "DEVELOPERS.md"), encoding="utf-8") as f:
            doc = f.read()
        self.assertTrue(table in doc, "DEVELOPERS.md's layering table differs from "
                        "scripts/check_layering.py --table: paste the latter in")


if __name__ == "__main__":
    unittest.main()
