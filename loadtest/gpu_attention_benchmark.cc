// loadtest/gpu_attention_benchmark.cc — the CUDA attention kernels against
// the machine's ceilings, measured side by side in one run:
//
//   build/gpu_attention_benchmark [--repeats 20] [--skip-prefill] [--skip-decode]
//
//   * copy: device-to-device cudaMemcpy of 1 GiB; bandwidth counts bytes read
//     plus bytes written (the ceiling for a memory-bound kernel);
//   * prefill: FlashAttention-2 kernel (PagedAttention, kAuto), bf16, head
//     dim 128, 16 heads (MHA), causal, S = 1k / 4k / 16k with 16k tokens per
//     batch, K/V read through a block table (block size 16, shuffled blocks).
//     TFLOP/s with the usual causal count 4 * B * H * S^2 * d / 2, so the
//     numbers compare with loadtest/gpu_attention_peer.py (torch SDPA);
//   * decode: split-KV kernel, bf16, 32 query / 8 KV heads (GQA 4), d 128,
//     context 4096, batch 1 and 64; GB/s of K/V read (each byte once) and the
//     ratio to the copy bandwidth;
//   * logits: a [batch, 128256] fp32 copy to pinned host memory against an
//     on-device Argmax of the same rows (the two ways to sample greedily).
// Each timing is the median over --repeats launches (CUDA events), after a
// warm-up. Besides the table, one `RESULT name key=value ...` line per case
// for loadtest/gpu_benchmarks.sh.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_info.h"

namespace {

using inferd::kernels::cuda::DeviceBuffer;
using inferd::kernels::cuda::DType;
using inferd::kernels::cuda::PagedAttentionArgs;

struct Options {
  int repeats = 20;
  bool prefill = true;
  bool decode = true;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      o.repeats = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--skip-prefill") {
      o.prefill = false;
    } else if (a == "--skip-decode") {
      o.decode = false;
    } else {
      std::fprintf(stderr, "usage: %s [--repeats N] [--skip-prefill] [--skip-decode]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

// Median milliseconds of `repeats` runs of `fn` on `stream` (after 3 warm-ups).
double MedianMs(cudaStream_t stream, int repeats, const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    CUDA_CHECK(cudaEventRecord(start, stream));
    fn();
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// `n` random values in [-1, 1) stored as `t` on the device.
DeviceBuffer RandomDevice(int64_t n, DType t, uint32_t seed, cudaStream_t stream) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> host(static_cast<size_t>(n));
  for (float& x : host) x = dist(rng);
  DeviceBuffer f32(n * sizeof(float));
  CUDA_CHECK(cudaMemcpy(f32.data(), host.data(), f32.bytes(), cudaMemcpyHostToDevice));
  DeviceBuffer out(n * inferd::kernels::cuda::DTypeSize(t));
  inferd::kernels::cuda::Convert(f32.data(), DType::kF32, out.data(), t, n, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

DeviceBuffer UploadInts(const std::vector<int32_t>& v) {
  DeviceBuffer b(v.size() * sizeof(int32_t));
  CUDA_CHECK(cudaMemcpy(b.data(), v.data(), b.bytes(), cudaMemcpyHostToDevice));
  return b;
}

// Sequences of equal length in a paged cache (shuffled blocks), all tokens new
// (prefill, q_len = ctx) or one new token each (decode, q_len = 1).
struct PagedBatch {
  PagedBatch(int batch, int ctx, int q_len, int hq, int hkv, int d, int bs, cudaStream_t stream) {
    const int blocks_per_seq = (ctx + bs - 1) / bs;
    const int64_t blocks = static_cast<int64_t>(batch) * blocks_per_seq;
    const int64_t slot_elems = static_cast<int64_t>(hkv) * d;
    k = RandomDevice(blocks * bs * slot_elems, DType::kBF16, 1, stream);
    v = RandomDevice(blocks * bs * slot_elems, DType::kBF16, 2, stream);
    q = RandomDevice(static_cast<int64_t>(batch) * q_len * hq * d, DType::kBF16, 3, stream);
    out = DeviceBuffer(static_cast<int64_t>(batch) * q_len * hq * d * 2);
    std::vector<int32_t> table(blocks);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(4));
    std::vector<int32_t> qs(batch + 1), lens(batch, ctx);
    for (int s = 0; s <= batch; ++s) qs[s] = s * q_len;
    tables = UploadInts(table);
    query_start = UploadInts(qs);
    seq_lens = UploadInts(lens);
    args.dtype = DType::kBF16;
    args.q = q.data();
    args.k_cache = k.data();
    args.v_cache = v.data();
    args.out = out.data();
    args.query_start = query_start.as<int32_t>();
    args.seq_lens = seq_lens.as<int32_t>();
    args.block_tables = tables.as<int32_t>();
    args.num_seqs = batch;
    args.num_tokens = batch * q_len;
    args.max_blocks_per_seq = blocks_per_seq;
    args.num_q_heads = hq;
    args.num_kv_heads = hkv;
    args.head_dim = d;
    args.block_size = bs;
    args.scale = 1.0f / std::sqrt(static_cast<float>(d));
    args.max_query_len = q_len;
    args.max_seq_len = ctx;
    workspace = DeviceBuffer(inferd::kernels::cuda::PagedAttentionWorkspaceBytes(args));
    args.workspace = workspace.data();
    args.workspace_bytes = static_cast<int64_t>(workspace.bytes());
  }

  DeviceBuffer k, v, q, out, tables, query_start, seq_lens, workspace;
  PagedAttentionArgs args;
};

double CopyBandwidth(cudaStream_t stream, int repeats) {
  const int64_t bytes = int64_t{1} << 30;
  DeviceBuffer a(bytes), b(bytes);
  CUDA_CHECK(cudaMemsetAsync(a.data(), 1, bytes, stream));
  const double ms = MedianMs(stream, repeats, [&] {
    CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream));
  });
  const double gbs = 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
  std::printf("copy  D2D 1 GiB: %.3f ms = %.0f GB/s (read + write)\n", ms, gbs);
  std::printf("RESULT copy gbs=%.1f\n", gbs);
  return gbs;
}

void Prefill(cudaStream_t stream, int repeats) {
  constexpr int kTokens = 16384, kHeads = 16, kDim = 128, kBlock = 16;
  std::printf("\nprefill attention, bf16, d %d, %d heads, causal, %d tokens per batch\n", kDim,
              kHeads, kTokens);
  std::printf("%8s %6s %12s %10s  %s\n", "S", "batch", "ms", "TFLOP/s", "kernel");
  for (int s : {1024, 4096, 16384}) {
    const int batch = kTokens / s;
    PagedBatch pb(batch, s, s, kHeads, kHeads, kDim, kBlock, stream);
    const auto kernel = inferd::kernels::cuda::SelectAttentionKernel(pb.args);
    const double ms =
        MedianMs(stream, repeats, [&] { inferd::kernels::cuda::PagedAttention(pb.args, stream); });
    const double flops = 4.0 * batch * kHeads * static_cast<double>(s) * s * kDim / 2.0;
    const double tflops = flops / (ms * 1e-3) / 1e12;
    const char* name = kernel == inferd::kernels::cuda::AttentionKernel::kFlashPrefill
                           ? "flash-prefill"
                           : "split-kv";
    std::printf("%8d %6d %12.3f %10.1f  %s\n", s, batch, ms, tflops, name);
    std::printf("RESULT prefill seq=%d batch=%d ms=%.4f tflops=%.2f\n", s, batch, ms, tflops);
  }
}

void Decode(cudaStream_t stream, int repeats, double copy_gbs) {
  constexpr int kCtx = 4096, kHq = 32, kHkv = 8, kDim = 128, kBlock = 16;
  std::printf("\npaged decode attention, bf16, %d q / %d kv heads, d %d, context %d\n", kHq, kHkv,
              kDim, kCtx);
  std::printf("%6s %12s %10s %12s\n", "batch", "us", "GB/s", "of copy");
  for (int batch : {1, 64}) {
    PagedBatch pb(batch, kCtx, 1, kHq, kHkv, kDim, kBlock, stream);
    const double ms =
        MedianMs(stream, repeats, [&] { inferd::kernels::cuda::PagedAttention(pb.args, stream); });
    const double bytes = 2.0 * batch * kCtx * kHkv * kDim * 2.0;  // K and V, bf16, once
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("%6d %12.1f %10.0f %11.1f%%\n", batch, ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
    std::printf("RESULT decode batch=%d us=%.2f gbs=%.1f copy_fraction=%.4f\n", batch, ms * 1e3,
                gbs, gbs / copy_gbs);
  }
}

void Logits(cudaStream_t stream, int repeats) {
  constexpr int64_t kVocab = 128256;
  std::printf("\ngreedy sampling of [batch, %lld] logits: copy to host vs argmax on device\n",
              static_cast<long long>(kVocab));
  std::printf("%6s %14s %16s\n", "batch", "fp32 D2H us", "bf16 argmax us");
  for (int batch : {1, 64}) {
    const int64_t n = batch * kVocab;
    DeviceBuffer f32 = RandomDevice(n, DType::kF32, 5, stream);
    DeviceBuffer bf16 = RandomDevice(n, DType::kBF16, 6, stream);
    DeviceBuffer ids(batch * sizeof(int32_t));
    float* host = nullptr;
    CUDA_CHECK(cudaMallocHost(&host, n * sizeof(float)));
    const double copy_ms = MedianMs(stream, repeats, [&] {
      CUDA_CHECK(
          cudaMemcpyAsync(host, f32.data(), n * sizeof(float), cudaMemcpyDeviceToHost, stream));
    });
    const double argmax_ms = MedianMs(stream, repeats, [&] {
      inferd::kernels::cuda::Argmax(bf16.data(), batch, kVocab, DType::kBF16, ids.as<int32_t>(),
                                    stream);
    });
    CUDA_CHECK(cudaFreeHost(host));
    std::printf("%6d %14.1f %16.1f\n", batch, copy_ms * 1e3, argmax_ms * 1e3);
    std::printf("RESULT logits batch=%d copy_us=%.2f argmax_us=%.2f\n", batch, copy_ms * 1e3,
                argmax_ms * 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  const inferd::kernels::cuda::DeviceInfo info = inferd::kernels::cuda::QueryDevices();
  if (info.count == 0) {
    std::fprintf(stderr, "no CUDA device: %s\n", info.error.c_str());
    return 1;
  }
  std::printf("device: %s (sm_%d%d, %.1f GiB)\n", info.name.c_str(), info.compute_major,
              info.compute_minor, static_cast<double>(info.total_memory) / (1 << 30));
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const double copy_gbs = CopyBandwidth(stream, o.repeats);
  if (o.prefill) Prefill(stream, o.repeats);
  if (o.decode) Decode(stream, o.repeats, copy_gbs);
  Logits(stream, o.repeats);
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}
