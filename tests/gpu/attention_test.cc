// tests/gpu/attention_test.cc — PagedAttention (both CUDA kernels) against
// the CPU op: every dtype; GQA ratios 1, 4 and 8; block sizes 16 and 32;
// contexts 1, 15, 16, 17, 1000 and 4097; decode, speculative verification
// (q_len <= 8), full and chunked prefill, batches that mix them; head dims 8
// to 256; random tree masks. The cache's physical blocks are shuffled and
// interleaved with garbage blocks no sequence owns. Tree masks are random
// trees in topological order (kernels/ops.h); the CPU op with the same mask
// is the reference.
//
// Tolerance (gpu_test_util.h): |got - want| <= c (|want| + rms), c = 8u for
// fp16/bf16 (P is rounded to the dtype on the tensor-core path), 1e-5 for
// fp32; rms over the case's reference output.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::AllClose;
using testing::BitEqual;
using testing::Download;
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;
using testing::UploadRaw;

struct SeqSpec {
  int seq_len;  // context after this step, new tokens included
  int q_len;    // new tokens
};

struct Shape {
  int hq, hkv, d, bs;
};

std::string Describe(const Shape& s) {
  return "hq " + std::to_string(s.hq) + " hkv " + std::to_string(s.hkv) + " d " +
         std::to_string(s.d) + " block " + std::to_string(s.bs);
}

const char* KernelName(AttentionKernel k) {
  switch (k) {
    case AttentionKernel::kAuto:
      return "auto";
    case AttentionKernel::kSplitKv:
      return "split-kv";
    case AttentionKernel::kFlashPrefill:
      return "flash-prefill";
  }
  return "?";
}

// Random tree words for q_len rows (kernels/ops.h): row 0 is a root; each
// later row hangs under a random earlier row, or starts a new root.
std::vector<uint64_t> RandomTree(int q_len, std::mt19937& rng) {
  std::vector<uint64_t> w(q_len);
  for (int r = 0; r < q_len; ++r) {
    const bool root = r == 0 || rng() % 8 == 0;
    const uint64_t self = uint64_t{1} << r;
    w[r] = root ? self : (w[rng() % r] | self);
  }
  return w;
}

// Sequences in one paged cache, with the queries of their new tokens.
class PagedProblem {
 public:
  PagedProblem(DType dtype, const Shape& shape, std::vector<SeqSpec> seqs, bool tree, uint32_t seed)
      : dtype_(dtype), shape_(shape), seqs_(std::move(seqs)), tree_(tree) {
    const int bs = shape_.bs;
    const int64_t slot_dim = static_cast<int64_t>(shape_.hkv) * shape_.d;
    int total_blocks = 3;  // garbage
    max_blocks_ = 1;
    query_start_.push_back(0);
    for (const SeqSpec& s : seqs_) {
      const int nb = (s.seq_len + bs - 1) / bs;
      total_blocks += nb;
      max_blocks_ = std::max(max_blocks_, nb + 1);  // a spare column per row
      query_start_.push_back(query_start_.back() + s.q_len);
      seq_lens_.push_back(s.seq_len);
      max_query_len_ = std::max(max_query_len_, s.q_len);
      max_seq_len_ = std::max(max_seq_len_, s.seq_len);
    }
    std::vector<int32_t> phys(total_blocks);
    std::iota(phys.begin(), phys.end(), 0);
    std::mt19937 rng(seed);
    std::shuffle(phys.begin(), phys.end(), rng);
    int next = 0;
    for (const SeqSpec& s : seqs_) {
      std::vector<int32_t> row(max_blocks_, phys.back());  // spare: a garbage block
      for (int b = 0; b * bs < s.seq_len; ++b) row[b] = phys[next++];
      tables_.insert(tables_.end(), row.begin(), row.end());
    }
    num_slots_ = static_cast<int64_t>(total_blocks) * bs;
    k_cache_ = RoundTo(dtype, RandomVector(num_slots_ * slot_dim, seed + 1, -2.0f, 2.0f));
    v_cache_ = RoundTo(dtype, RandomVector(num_slots_ * slot_dim, seed + 2, -2.0f, 2.0f));
    q_ = RoundTo(dtype, RandomVector(NumTokens() * shape_.hq * shape_.d, seed + 3));
    if (tree_) {
      for (const SeqSpec& s : seqs_) {
        std::vector<uint64_t> w =
            s.q_len <= 64 ? RandomTree(s.q_len, rng) : std::vector<uint64_t>(s.q_len, 0);
        words_.insert(words_.end(), w.begin(), w.end());
      }
    }
  }

  int NumTokens() const { return query_start_.back(); }
  int64_t OutSize() const { return static_cast<int64_t>(NumTokens()) * shape_.hq * shape_.d; }

  // The CPU op's answer.
  std::vector<float> Reference() const {
    std::vector<float> out(OutSize());
    RunCpu(q_.data(), query_start_, seq_lens_, tables_, max_blocks_, k_cache_, v_cache_,
           tree_ ? words_.data() : nullptr, out.data());
    return out;
  }

  // The CUDA op's answer, with every output element poisoned beforehand.
  std::vector<float> RunGpu(AttentionKernel kernel, cudaStream_t stream) {
    if (d_q_.data() == nullptr) {
      d_q_ = Upload(dtype_, q_);
      d_k_ = Upload(dtype_, k_cache_);
      d_v_ = Upload(dtype_, v_cache_);
      d_qs_ = UploadRaw(query_start_);
      d_lens_ = UploadRaw(seq_lens_);
      d_tables_ = UploadRaw(tables_);
      if (tree_) d_words_ = UploadRaw(words_);
    }
    DeviceBuffer out(OutSize() * DTypeSize(dtype_));
    Poison(out);
    PagedAttentionArgs a = Args(kernel);
    a.out = out.data();
    DeviceBuffer ws(PagedAttentionWorkspaceBytes(a));
    Poison(ws);  // partials must be written before they are read
    a.workspace = ws.data();
    a.workspace_bytes = static_cast<int64_t>(ws.bytes());
    PagedAttention(a, stream);
    CUDA_CHECK(cudaGetLastError());
    return Download(dtype_, out.data(), OutSize());
  }

  PagedAttentionArgs Args(AttentionKernel kernel) const {
    PagedAttentionArgs a;
    a.dtype = dtype_;
    a.q = d_q_.data();
    a.k_cache = d_k_.data();
    a.v_cache = d_v_.data();
    a.query_start = d_qs_.as<int32_t>();
    a.seq_lens = d_lens_.as<int32_t>();
    a.block_tables = d_tables_.as<int32_t>();
    a.tree_mask = tree_ ? d_words_.as<uint64_t>() : nullptr;
    a.num_seqs = static_cast<int32_t>(seqs_.size());
    a.num_tokens = NumTokens();
    a.max_blocks_per_seq = max_blocks_;
    a.num_q_heads = shape_.hq;
    a.num_kv_heads = shape_.hkv;
    a.head_dim = shape_.d;
    a.block_size = shape_.bs;
    a.scale = 1.0f / std::sqrt(static_cast<float>(shape_.d));
    a.max_query_len = max_query_len_;
    a.max_seq_len = max_seq_len_;
    a.kernel = kernel;
    return a;
  }

  bool FlashSupported() const {
    return dtype_ != DType::kF32 && (shape_.d == 64 || shape_.d == 128);
  }

  // A problem over the same cache with the sequences `picks` (index, q_len):
  // each keeps its context and the last q_len of its query rows (a later
  // chunk when q_len is smaller). Causal only.
  PagedProblem Derive(const std::vector<std::pair<int, int>>& picks) const {
    PagedProblem p;
    p.dtype_ = dtype_;
    p.shape_ = shape_;
    p.tree_ = false;
    p.max_blocks_ = max_blocks_;
    p.num_slots_ = num_slots_;
    p.k_cache_ = k_cache_;
    p.v_cache_ = v_cache_;
    p.query_start_.push_back(0);
    const int64_t row = static_cast<int64_t>(shape_.hq) * shape_.d;
    for (const auto& [s, q_len] : picks) {
      const SeqSpec& sp = seqs_[s];
      p.seqs_.push_back({sp.seq_len, q_len});
      p.seq_lens_.push_back(sp.seq_len);
      p.query_start_.push_back(p.query_start_.back() + q_len);
      p.max_query_len_ = std::max(p.max_query_len_, q_len);
      p.max_seq_len_ = std::max(p.max_seq_len_, sp.seq_len);
      p.tables_.insert(p.tables_.end(), tables_.begin() + s * max_blocks_,
                       tables_.begin() + (s + 1) * max_blocks_);
      const int64_t first = query_start_[s] + sp.q_len - q_len;
      p.q_.insert(p.q_.end(), q_.begin() + first * row, q_.begin() + (first + q_len) * row);
    }
    return p;
  }

  // The rows of `out` (this problem's output) that Derive(picks) computes.
  std::vector<float> Rows(const std::vector<float>& out,
                          const std::vector<std::pair<int, int>>& picks) const {
    const int64_t row = static_cast<int64_t>(shape_.hq) * shape_.d;
    std::vector<float> rows;
    for (const auto& [s, q_len] : picks) {
      const int64_t first = query_start_[s] + seqs_[s].q_len - q_len;
      rows.insert(rows.end(), out.begin() + first * row, out.begin() + (first + q_len) * row);
    }
    return rows;
  }

 private:
  PagedProblem() = default;

  void RunCpu(const float* q, const std::vector<int32_t>& query_start,
              const std::vector<int32_t>& seq_lens, const std::vector<int32_t>& tables,
              int max_blocks, const std::vector<float>& k_cache, const std::vector<float>& v_cache,
              const uint64_t* tree_mask, float* out) const {
    ::inferd::kernels::PagedAttentionParams p;
    p.q = q;
    p.k_cache = k_cache.data();
    p.v_cache = v_cache.data();
    p.out = out;
    p.query_start = query_start.data();
    p.seq_lens = seq_lens.data();
    p.block_tables = tables.data();
    p.num_seqs = static_cast<int32_t>(seq_lens.size());
    p.max_blocks_per_seq = max_blocks;
    p.num_q_heads = shape_.hq;
    p.num_kv_heads = shape_.hkv;
    p.head_dim = shape_.d;
    p.block_size = shape_.bs;
    p.scale = 1.0f / std::sqrt(static_cast<float>(shape_.d));
    p.tree_mask = tree_mask;
    ::inferd::kernels::PagedAttention(p);
  }

  DType dtype_ = DType::kF32;
  Shape shape_{};
  std::vector<SeqSpec> seqs_;
  bool tree_ = false;
  int max_blocks_ = 1;
  int max_query_len_ = 0;
  int max_seq_len_ = 0;
  int64_t num_slots_ = 0;
  std::vector<int32_t> query_start_, seq_lens_, tables_;
  std::vector<uint64_t> words_;
  std::vector<float> k_cache_, v_cache_, q_;
  DeviceBuffer d_q_, d_k_, d_v_, d_qs_, d_lens_, d_tables_, d_words_;
};

class CudaAttentionTest : public ::testing::TestWithParam<DType> {
 protected:
  // Runs `kernels` on the problem and compares each with the CPU reference.
  void Check(PagedProblem& problem, const std::vector<AttentionKernel>& kernels,
             const std::string& what) {
    const std::vector<float> want = problem.Reference();
    const double rms = testing::Rms(want);
    const double c = GetParam() == DType::kF32 ? 1e-5 : 8 * testing::UnitRoundoff(GetParam());
    for (AttentionKernel k : kernels) {
      if (k == AttentionKernel::kFlashPrefill && !problem.FlashSupported()) continue;
      const std::vector<float> got = problem.RunGpu(k, stream_.get());
      EXPECT_TRUE(AllClose(got, want, c * rms, c))
          << what << ", kernel " << KernelName(k) << " (auto chose "
          << KernelName(SelectAttentionKernel(problem.Args(k))) << ")";
    }
  }

  static std::vector<Shape> Shapes(const std::vector<int>& dims) {
    std::vector<Shape> shapes;
    for (int bs : {16, 32}) {
      for (int d : dims) {
        shapes.push_back({4, 4, d, bs});   // GQA ratio 1
        shapes.push_back({8, 2, d, bs});   // 4
        shapes.push_back({16, 2, d, bs});  // 8
      }
    }
    return shapes;
  }

  static std::vector<int> Contexts() {
    if (testing::SmallMode()) return {1, 15, 16, 17, 100, 300};
    return {1, 15, 16, 17, 1000, 4097};
  }

  testing::Stream stream_;
};

const std::vector<AttentionKernel> kAllKernels{AttentionKernel::kAuto, AttentionKernel::kSplitKv,
                                               AttentionKernel::kFlashPrefill};

TEST_P(CudaAttentionTest, Decode) {
  INFERD_REQUIRE_GPU();
  std::vector<SeqSpec> seqs;
  for (int ctx : Contexts()) seqs.push_back({ctx, 1});
  uint32_t seed = 1;
  for (const Shape& shape : Shapes({8, 64, 80, 128, 256})) {
    PagedProblem problem(GetParam(), shape, seqs, false, seed++);
    Check(problem, kAllKernels, "decode, " + Describe(shape));
  }
}

TEST_P(CudaAttentionTest, SpeculativeVerification) {
  INFERD_REQUIRE_GPU();
  const int long_ctx = Contexts().back();
  const std::vector<SeqSpec> seqs{{2, 2}, {9, 5}, {300, 8}, {1000, 3}, {long_ctx, 8}, {20, 1}};
  uint32_t seed = 100;
  for (const Shape& shape : Shapes({64, 128})) {
    PagedProblem problem(GetParam(), shape, seqs, false, seed++);
    Check(problem, kAllKernels, "verify, " + Describe(shape));
  }
}

TEST_P(CudaAttentionTest, PrefillFullChunkedAndMixed) {
  INFERD_REQUIRE_GPU();
  std::vector<SeqSpec> seqs;
  if (testing::SmallMode()) {
    seqs = {{1, 1}, {15, 15}, {16, 16}, {17, 17}, {100, 100}, {300, 40}, {77, 1}, {33, 1}};
  } else {
    seqs = {{1, 1},      {15, 15},   {16, 16},  {17, 17}, {1000, 1000},
            {4097, 300}, {1000, 17}, {4097, 1}, {33, 1}};
  }
  uint32_t seed = 200;
  for (const Shape& shape : Shapes({64, 80, 128})) {
    PagedProblem problem(GetParam(), shape, seqs, false, seed++);
    Check(problem, kAllKernels, "prefill, " + Describe(shape));
  }
}

TEST_P(CudaAttentionTest, TreeMasks) {
  INFERD_REQUIRE_GPU();
  // Short trees (split-KV under kAuto), then with longer ones (flash under
  // kAuto for fp16/bf16); the q_len 100 prefill is beyond 64 rows: causal.
  const std::vector<std::vector<SeqSpec>> batches{
      {{1, 1}, {21, 4}, {608, 8}, {8, 8}, {40, 6}},
      {{1, 1}, {21, 4}, {53, 20}, {164, 64}, {100, 100}, {608, 8}}};
  uint32_t seed = 300;
  for (const auto& seqs : batches) {
    for (const Shape& shape : Shapes({64, 128})) {
      PagedProblem problem(GetParam(), shape, seqs, true, seed++);
      Check(problem, kAllKernels, "tree, " + Describe(shape));
    }
  }
}

// A sequence's rows do not depend on the rest of the batch or on how its
// prompt was chunked, for each kernel: bit-equal rows (DESIGN §5; the kernels
// partition keys by absolute position only, and masked keys add exact zeros).
TEST_P(CudaAttentionTest, RowsDoNotDependOnBatchOrChunking) {
  INFERD_REQUIRE_GPU();
  const int long_ctx = Contexts().back();
  const std::vector<SeqSpec> seqs{{17, 1}, {long_ctx, 200}, {1000, 5}, {300, 300}};
  for (const Shape& shape : {Shape{8, 2, 128, 16}, Shape{4, 4, 64, 32}}) {
    PagedProblem full(GetParam(), shape, seqs, false, 11);
    // Sequence 1 alone with its last 70 rows; sequence 3 as a last chunk of
    // 129 rows next to sequence 0; sequence 2 alone.
    PagedProblem alone = full.Derive({{1, 70}});
    PagedProblem chunked = full.Derive({{3, 129}, {0, 1}});
    PagedProblem single = full.Derive({{2, 5}});
    for (AttentionKernel k : {AttentionKernel::kSplitKv, AttentionKernel::kFlashPrefill}) {
      if (k == AttentionKernel::kFlashPrefill && !full.FlashSupported()) continue;
      const std::vector<float> all = full.RunGpu(k, stream_.get());
      EXPECT_TRUE(BitEqual(alone.RunGpu(k, stream_.get()), full.Rows(all, {{1, 70}})))
          << "alone, " << KernelName(k) << ", " << Describe(shape);
      EXPECT_TRUE(BitEqual(chunked.RunGpu(k, stream_.get()), full.Rows(all, {{3, 129}, {0, 1}})))
          << "chunked, " << KernelName(k) << ", " << Describe(shape);
      EXPECT_TRUE(BitEqual(single.RunGpu(k, stream_.get()), full.Rows(all, {{2, 5}})))
          << "single, " << KernelName(k) << ", " << Describe(shape);
      EXPECT_TRUE(BitEqual(full.RunGpu(k, stream_.get()), all)) << "run to run";
    }
  }
}

// The host-side plan needs no device: it runs in CI too.
TEST(CudaAttentionPlanTest, ChoosesTheKernelAndSizesTheWorkspace) {
  PagedAttentionArgs a;
  a.dtype = DType::kBF16;
  a.q = a.k_cache = a.v_cache = reinterpret_cast<void*>(0x10000);
  a.out = reinterpret_cast<void*>(0x20000);
  a.num_seqs = 3;
  a.num_tokens = 5;
  a.num_q_heads = 32;
  a.num_kv_heads = 8;
  a.head_dim = 128;
  a.block_size = 16;
  a.max_blocks_per_seq = 300;
  a.max_query_len = 3;
  a.max_seq_len = 4097;  // 17 splits of 256
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kSplitKv);
  EXPECT_EQ(PagedAttentionWorkspaceBytes(a), int64_t{4} * 5 * 32 * 17 * (128 + 2));
  a.max_seq_len = 256;  // one split: no workspace
  EXPECT_EQ(PagedAttentionWorkspaceBytes(a), 0);
  a.max_query_len = kSplitKvMaxQueryLen;
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kSplitKv);
  a.max_query_len = kSplitKvMaxQueryLen + 1;
  a.max_seq_len = 4097;
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kFlashPrefill);
  EXPECT_EQ(PagedAttentionWorkspaceBytes(a), 0);
  a.head_dim = 64;
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kFlashPrefill);
  a.head_dim = 80;  // no tensor-core instance: split-KV for any length
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kSplitKv);
  a.head_dim = 128;
  a.dtype = DType::kF32;
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kSplitKv);
  a.dtype = DType::kF16;
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kFlashPrefill);
  a.k_cache = reinterpret_cast<void*>(0x10008);  // not 16-byte aligned: no cp.async
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kSplitKv);
  a.kernel = AttentionKernel::kFlashPrefill;  // a forced kernel is kept as asked
  EXPECT_EQ(SelectAttentionKernel(a), AttentionKernel::kFlashPrefill);
  EXPECT_EQ(PagedAttentionWorkspaceBytes(a), 0);
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaAttentionTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
