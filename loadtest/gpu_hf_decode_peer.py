#!/usr/bin/env python3
"""loadtest/gpu_hf_decode_peer.py — the peer of inferd's end-to-end GPU decode
(decode_benchmark --device cuda): HF transformers `generate` with a static KV
cache on the same checkpoint, greedy, EOS ignored, in the checkpoint's dtype.

  python3 loadtest/gpu_hf_decode_peer.py MODEL_DIR [--batches 1,64] [--max-tokens 128]
                                         [--repeats 3]

Prints one line per batch size:
  RESULT hf batch=B tokens=N tps=T per_stream_tps=S
where tps = B x N generated tokens / wall time of generate() (prefill of the
3-token prompts included, as decode_benchmark's aggregate includes it) and
per_stream_tps = tps / B. The median over --repeats, after one warm-up call
per batch size (the static cache is allocated and the kernels loaded then).
Exits 0 with a "SKIP" line when torch, transformers or a GPU is missing.
"""
import argparse
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"SKIP hf peer: {e}")
        return 0
    if not torch.cuda.is_available():
        print("SKIP hf peer: torch sees no CUDA device")
        return 0
    print(f"hf peer: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.cuda.get_device_name(0)}")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        args.model, torch_dtype="auto").to("cuda").eval()
    vocab = model.config.vocab_size
    for batch in (int(b) for b in args.batches.split(",")):
        # The prompts decode_benchmark uses: [BOS, 100 + i, 200 + 3i].
        bos = model.config.bos_token_id if model.config.bos_token_id is not None else 1
        ids = torch.tensor([[bos, (100 + i) % vocab, (200 + 3 * i) % vocab] for i in range(batch)],
                           device="cuda")
        mask = torch.ones_like(ids)
        kw = dict(attention_mask=mask, max_new_tokens=args.max_tokens,
                  min_new_tokens=args.max_tokens, do_sample=False,
                  cache_implementation="static", pad_token_id=0)
        with torch.inference_mode():
            model.generate(ids, **kw)  # warm-up
            rates = []
            for _ in range(args.repeats):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = model.generate(ids, **kw)
                torch.cuda.synchronize()
                wall = time.perf_counter() - t0
                generated = (out.shape[1] - ids.shape[1]) * batch
                rates.append(generated / wall)
        tps = statistics.median(rates)
        print(f"RESULT hf batch={batch} tokens={args.max_tokens} tps={tps:.1f} "
              f"per_stream_tps={tps / batch:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
