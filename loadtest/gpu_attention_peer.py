#!/usr/bin/env python3
"""loadtest/gpu_attention_peer.py: the peer of gpu_attention_benchmark's prefill.

torch.nn.functional.scaled_dot_product_attention on the same shapes (bf16,
head dim 128, 16 heads, causal, S = 1k / 4k / 16k with 16k tokens per batch),
once with the FLASH_ATTENTION backend and once with CUDNN_ATTENTION
(torch.nn.attention.sdpa_kernel), timed like the C++ program: median of
--repeats launches with CUDA events after 3 warm-ups, TFLOP/s counted as
4 * B * H * S^2 * d / 2. Prints a table and one `RESULT` line per case:

    python3 loadtest/gpu_attention_peer.py [--repeats 20]

A backend this torch build or GPU cannot run is reported as unavailable.
"""
import argparse
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

TOKENS, HEADS, DIM = 16384, 16, 128


def median_ms(fn, repeats):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 1
    print(f"device: {torch.cuda.get_device_name()} torch {torch.__version__}")
    print(f"\nSDPA prefill, bf16, d {DIM}, {HEADS} heads, causal, {TOKENS} tokens per batch")
    print(f"{'S':>8} {'batch':>6} {'backend':>16} {'ms':>10} {'TFLOP/s':>9}")
    gen = torch.Generator(device="cuda").manual_seed(0)
    for seq in (1024, 4096, 16384):
        batch = TOKENS // seq
        shape = (batch, HEADS, seq, DIM)
        q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, generator=gen)
                   for _ in range(3))
        flops = 4.0 * batch * HEADS * seq * seq * DIM / 2.0
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                              ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            def run():
                with sdpa_kernel(backend):
                    F.scaled_dot_product_attention(q, k, v, is_causal=True)
            try:
                ms = median_ms(run, args.repeats)
            except RuntimeError as err:  # backend not available here
                print(f"{seq:>8} {batch:>6} {name:>16} unavailable: {str(err).splitlines()[0]}")
                print(f"RESULT peer backend={name} seq={seq} unavailable=1")
                continue
            tflops = flops / (ms * 1e-3) / 1e12
            print(f"{seq:>8} {batch:>6} {name:>16} {ms:>10.3f} {tflops:>9.1f}")
            print(f"RESULT peer backend={name} seq={seq} batch={batch} ms={ms:.4f} "
                  f"tflops={tflops:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
