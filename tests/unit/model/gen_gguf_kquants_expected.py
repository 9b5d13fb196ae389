#!/usr/bin/env python3
"""Writes gguf_kquants_expected.inc: random Q4_K, Q6_K and Q5_K super-blocks
(and Q5_0/Q5_1 blocks, the types llama-quantize falls back to, and Q4_1) and
what llama.cpp's own dequantizer (its Python package gguf-py, gguf/quants.py,
which matches ggml's dequantize_row_* for these types) makes of them, for
gguf_kquants_test.cc.

  /usr/bin/python3 tests/unit/model/gen_gguf_kquants_expected.py LLAMA_CPP/gguf-py \
      > tests/unit/model/gguf_kquants_expected.inc

LLAMA_CPP is a llama.cpp checkout (../shared/scripts/llamacpp-peer.sh build
makes one); the file committed was made with llama.cpp c392e509.
"""
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from gguf import quants  # noqa: E402

rng = np.random.default_rng(7)


def fp16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def q4k_blocks(n):
    b = rng.integers(0, 256, size=(n, 144), dtype=np.uint8)
    for i in range(n):
        b[i, 0:2] = fp16_bytes([rng.standard_normal() * 0.01])
        b[i, 2:4] = fp16_bytes([abs(rng.standard_normal()) * 0.01])
    return b


def q6k_blocks(n):
    b = rng.integers(0, 256, size=(n, 210), dtype=np.uint8)
    for i in range(n):
        b[i, 208:210] = fp16_bytes([rng.standard_normal() * 0.001])
    return b


def q5k_blocks(n):
    b = rng.integers(0, 256, size=(n, 176), dtype=np.uint8)
    for i in range(n):
        b[i, 0:2] = fp16_bytes([rng.standard_normal() * 0.01])
        b[i, 2:4] = fp16_bytes([abs(rng.standard_normal()) * 0.01])
    return b


def emit(name, blocks, values):
    print("constexpr uint8_t k%sBlocks[] = {" % name)
    flat = blocks.reshape(-1)
    for i in range(0, len(flat), 24):
        print("    " + ", ".join("%d" % v for v in flat[i:i + 24]) + ",")
    print("};")
    print("constexpr uint32_t k%sValues[] = {" % name)
    bits = values.astype(np.float32).reshape(-1).view(np.uint32)
    for i in range(0, len(bits), 8):
        print("    " + ", ".join("0x%08xu" % v for v in bits[i:i + 8]) + ",")
    print("};")


print("// Made by gen_gguf_kquants_expected.py (llama.cpp gguf-py quants.py); do not edit.")
q4 = q4k_blocks(3)
emit("Q4K", q4, quants.Q4_K.dequantize_blocks(q4))
q6 = q6k_blocks(3)
emit("Q6K", q6, quants.Q6_K.dequantize_blocks(q6))
# Appended after the others, so their blocks (and the committed values) stay
# what they were.
q5 = q5k_blocks(3)
emit("Q5K", q5, quants.Q5_K.dequantize_blocks(q5))
q50 = rng.integers(0, 256, size=(5, 22), dtype=np.uint8)
q51 = rng.integers(0, 256, size=(5, 24), dtype=np.uint8)
for i in range(5):
    q50[i, 0:2] = fp16_bytes([rng.standard_normal() * 0.01])
    q51[i, 0:2] = fp16_bytes([abs(rng.standard_normal()) * 0.01])
    q51[i, 2:4] = fp16_bytes([rng.standard_normal() * 0.1])
emit("Q5_0", q50, quants.Q5_0.dequantize_blocks(q50))
emit("Q5_1", q51, quants.Q5_1.dequantize_blocks(q51))
q41 = rng.integers(0, 256, size=(5, 20), dtype=np.uint8)
for i in range(5):
    q41[i, 0:2] = fp16_bytes([abs(rng.standard_normal()) * 0.01])
    q41[i, 2:4] = fp16_bytes([rng.standard_normal() * 0.1])
emit("Q4_1", q41, quants.Q4_1.dequantize_blocks(q41))
