// tests/gpu/graph_cache_test.cc — GraphCache: a decode-like step (RmsNorm,
// cuBLAS GEMM, split-KV paged attention with a multi-split merge, Argmax)
// captured per batch size and replayed on new inputs gives the bits of the
// same step run eagerly; a capture that does something illegal fails with a
// status and leaves the stream usable; an unknown key is NOT_FOUND.
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cublas_handle.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/graph_cache.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::BitEqual;
using testing::Download;
using testing::DownloadRaw;
using testing::RandomVector;
using testing::Upload;
using testing::UploadRaw;

constexpr DType kT = DType::kBF16;
constexpr int kHidden = 256, kVocab = 1000, kHq = 8, kHkv = 2, kD = 32, kBs = 16, kCtx = 700;

// Persistent buffers of one batch size, and the step that reads them.
struct DecodeStep {
  explicit DecodeStep(int batch) : batch(batch) {
    const int blocks_per_seq = (kCtx + kBs - 1) / kBs;
    x = DeviceBuffer(batch * kHidden * DTypeSize(kT));
    xn = DeviceBuffer(batch * kHidden * DTypeSize(kT));
    norm_w = Upload(kT, RandomVector(kHidden, 1, 0.5f, 1.5f));
    w = Upload(kT, RandomVector(kVocab * kHidden, 2));
    logits = DeviceBuffer(batch * kVocab * DTypeSize(kT));
    ids = DeviceBuffer(batch * sizeof(int32_t));
    const int64_t slots = static_cast<int64_t>(batch) * blocks_per_seq * kBs;
    k_cache = Upload(kT, RandomVector(slots * kHkv * kD, 3));
    v_cache = Upload(kT, RandomVector(slots * kHkv * kD, 4));
    q = DeviceBuffer(batch * kHq * kD * DTypeSize(kT));
    attn_out = DeviceBuffer(batch * kHq * kD * DTypeSize(kT));
    std::vector<int32_t> qs(batch + 1), lens(batch, kCtx), tables(batch * blocks_per_seq);
    std::iota(qs.begin(), qs.end(), 0);
    std::iota(tables.begin(), tables.end(), 0);
    query_start = UploadRaw(qs);
    seq_lens = UploadRaw(lens);
    block_tables = UploadRaw(tables);
    args.dtype = kT;
    args.q = q.data();
    args.k_cache = k_cache.data();
    args.v_cache = v_cache.data();
    args.out = attn_out.data();
    args.query_start = query_start.as<int32_t>();
    args.seq_lens = seq_lens.as<int32_t>();
    args.block_tables = block_tables.as<int32_t>();
    args.num_seqs = batch;
    args.num_tokens = batch;
    args.max_blocks_per_seq = blocks_per_seq;
    args.num_q_heads = kHq;
    args.num_kv_heads = kHkv;
    args.head_dim = kD;
    args.block_size = kBs;
    args.scale = 1.0f / std::sqrt(static_cast<float>(kD));
    args.max_query_len = 1;
    args.max_seq_len = kCtx;
    workspace = DeviceBuffer(PagedAttentionWorkspaceBytes(args));
    args.workspace = workspace.data();
    args.workspace_bytes = static_cast<int64_t>(workspace.bytes());
  }

  void Run(cublasHandle_t handle, cudaStream_t stream) const {
    RmsNorm(x.data(), norm_w.data(), batch, kHidden, 1e-5f, xn.data(), kT, stream);
    Matmul(handle, xn.data(), w.data(), nullptr, batch, kVocab, kHidden, logits.data(), kT, stream);
    Argmax(logits.data(), batch, kVocab, kT, ids.as<int32_t>(), stream);
    PagedAttention(args, stream);
  }

  // Writes new step inputs (x and q) from `seed`, ordered before later work on `stream`.
  void SetInputs(uint32_t seed, cudaStream_t stream) const {
    const std::vector<uint8_t> xb =
        testing::Encode(kT, RandomVector(static_cast<int64_t>(batch) * kHidden, seed));
    const std::vector<uint8_t> qb =
        testing::Encode(kT, RandomVector(static_cast<int64_t>(batch) * kHq * kD, seed + 1));
    CUDA_CHECK(cudaMemcpyAsync(x.data(), xb.data(), xb.size(), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(q.data(), qb.data(), qb.size(), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // the host vectors die here
  }

  struct Result {
    std::vector<float> logits, attn;
    std::vector<int32_t> ids;
  };
  Result Read() const {
    return {Download(kT, logits.data(), static_cast<int64_t>(batch) * kVocab),
            Download(kT, attn_out.data(), static_cast<int64_t>(batch) * kHq * kD),
            DownloadRaw<int32_t>(ids.data(), batch)};
  }

  int batch;
  DeviceBuffer x, xn, norm_w, w, logits, ids, k_cache, v_cache, q, attn_out, query_start, seq_lens,
      block_tables, workspace;
  PagedAttentionArgs args;
};

TEST(CudaGraphCacheTest, ReplayEqualsEager) {
  INFERD_REQUIRE_GPU();
  testing::Stream stream;
  CublasHandle handle;
  GraphCache cache;
  for (int batch : {1, 4}) {
    DecodeStep step(batch);
    step.SetInputs(10, stream.get());
    step.Run(handle.get(), stream.get());  // eager warm-up (also sets kernel attributes)
    ASSERT_TRUE(
        cache.Capture(batch, stream.get(), [&](cudaStream_t s) { step.Run(handle.get(), s); })
            .ok());
    EXPECT_TRUE(cache.Contains(batch));
    for (uint32_t seed : {20u, 30u}) {
      step.SetInputs(seed, stream.get());
      ASSERT_TRUE(cache.Replay(batch, stream.get()).ok());
      const DecodeStep::Result replayed = step.Read();
      step.Run(handle.get(), stream.get());
      const DecodeStep::Result eager = step.Read();
      EXPECT_TRUE(BitEqual(replayed.logits, eager.logits)) << "batch " << batch;
      EXPECT_TRUE(BitEqual(replayed.attn, eager.attn)) << "batch " << batch;
      EXPECT_EQ(replayed.ids, eager.ids) << "batch " << batch;
      for (float v : replayed.attn) ASSERT_TRUE(std::isfinite(v));
    }
  }
  EXPECT_EQ(cache.size(), 2);
  EXPECT_EQ(cache.Replay(3, stream.get()).code(), absl::StatusCode::kNotFound);
  cache.Clear();
  EXPECT_FALSE(cache.Contains(1));
}

TEST(CudaGraphCacheTest, IllegalCaptureFailsAndStreamStaysUsable) {
  INFERD_REQUIRE_GPU();
  testing::Stream stream;
  GraphCache cache;
  const absl::Status st = cache.Capture(1, stream.get(), [](cudaStream_t s) {
    cudaStreamSynchronize(s);  // not allowed while capturing
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(cache.Contains(1));
  // Eager work on the same stream still runs.
  const std::vector<float> a = RandomVector(1000, 5), b = RandomVector(1000, 6);
  const DeviceBuffer da = Upload(DType::kF32, a), db = Upload(DType::kF32, b);
  DeviceBuffer out(1000 * sizeof(float));
  Add(da.data(), db.data(), 1000, out.data(), DType::kF32, stream.get());
  const std::vector<float> got = Download(DType::kF32, out.data(), 1000);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[i], a[i] + b[i]);
}

}  // namespace
}  // namespace inferd::kernels::cuda
