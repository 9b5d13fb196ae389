// tests/unit/kernels/attention_test.cc — PagedAttention against a double
// reference (shuffled physical blocks, GQA, odd block sizes, varlen batches),
// and bit-for-bit invariance to batching, chunked prefill and thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::Near;
using testing::RandomVector;

// A set of sequences with K, V and a query for every position, stored in a
// paged cache whose physical blocks are shuffled (and interleaved with blocks
// of garbage that no sequence owns).
class PagedFixture {
 public:
  PagedFixture(std::vector<int> lengths, int num_q_heads, int num_kv_heads, int head_dim,
               int block_size, uint32_t seed)
      : lengths_(std::move(lengths)),
        hq_(num_q_heads),
        hkv_(num_kv_heads),
        d_(head_dim),
        bs_(block_size) {
    int total_blocks = 3;  // garbage blocks
    max_blocks_ = 1;
    for (int len : lengths_) {
      const int nb = (len + bs_ - 1) / bs_;
      total_blocks += nb;
      max_blocks_ = std::max(max_blocks_, nb + 1);  // one spare column per row
    }
    std::vector<int32_t> phys(static_cast<size_t>(total_blocks));
    std::iota(phys.begin(), phys.end(), 0);
    std::shuffle(phys.begin(), phys.end(), std::mt19937(seed));
    const int64_t slot_dim = static_cast<int64_t>(hkv_) * d_;
    k_cache_ = RandomVector(total_blocks * bs_ * slot_dim, seed + 1, -3.0f, 3.0f);
    v_cache_ = RandomVector(total_blocks * bs_ * slot_dim, seed + 2, -3.0f, 3.0f);
    int next = 0;
    for (size_t s = 0; s < lengths_.size(); ++s) {
      const int len = lengths_[s];
      std::vector<int32_t> row(static_cast<size_t>(max_blocks_), phys.back());  // spare: garbage
      for (int b = 0; b * bs_ < len; ++b) row[b] = phys[next++];
      tables_.push_back(row);
      k_.push_back(RandomVector(len * slot_dim, seed + 10 + 3 * s));
      v_.push_back(RandomVector(len * slot_dim, seed + 11 + 3 * s));
      q_.push_back(RandomVector(static_cast<int64_t>(len) * hq_ * d_, seed + 12 + 3 * s));
      for (int p = 0; p < len; ++p) {
        const int64_t slot = static_cast<int64_t>(row[p / bs_]) * bs_ + p % bs_;
        std::copy_n(k_.back().begin() + p * slot_dim, slot_dim, k_cache_.begin() + slot * slot_dim);
        std::copy_n(v_.back().begin() + p * slot_dim, slot_dim, v_cache_.begin() + slot * slot_dim);
      }
    }
    scale_ = 1.0f / std::sqrt(static_cast<float>(d_));
  }

  struct Entry {
    int seq;      // which sequence
    int seq_len;  // context after this step (includes the new tokens)
    int q_len;    // new tokens
  };

  // Runs one PagedAttention call over `entries`; returns out rows in order.
  std::vector<float> Run(const std::vector<Entry>& entries) const {
    std::vector<int32_t> query_start{0}, seq_lens, tables;
    std::vector<float> q;
    const int64_t row = static_cast<int64_t>(hq_) * d_;
    for (const Entry& e : entries) {
      query_start.push_back(query_start.back() + e.q_len);
      seq_lens.push_back(e.seq_len);
      tables.insert(tables.end(), tables_[e.seq].begin(), tables_[e.seq].end());
      const auto& qs = q_[e.seq];
      q.insert(q.end(), qs.begin() + (e.seq_len - e.q_len) * row, qs.begin() + e.seq_len * row);
    }
    std::vector<float> out(q.size(), NAN);
    PagedAttentionParams p;
    p.q = q.data();
    p.k_cache = k_cache_.data();
    p.v_cache = v_cache_.data();
    p.out = out.data();
    p.query_start = query_start.data();
    p.seq_lens = seq_lens.data();
    p.block_tables = tables.data();
    p.num_seqs = static_cast<int32_t>(entries.size());
    p.max_blocks_per_seq = max_blocks_;
    p.num_q_heads = hq_;
    p.num_kv_heads = hkv_;
    p.head_dim = d_;
    p.block_size = bs_;
    p.scale = scale_;
    PagedAttention(p);
    return out;
  }

  // Double-precision reference for the query of sequence s at position pos.
  std::vector<double> Reference(int s, int pos) const {
    const int group = hq_ / hkv_;
    std::vector<double> out(static_cast<size_t>(hq_) * d_, 0.0);
    for (int h = 0; h < hq_; ++h) {
      const float* q = q_[s].data() + (static_cast<int64_t>(pos) * hq_ + h) * d_;
      const int kvh = h / group;
      std::vector<double> sc(static_cast<size_t>(pos) + 1);
      double mx = -INFINITY;
      for (int j = 0; j <= pos; ++j) {
        const float* k = k_[s].data() + (static_cast<int64_t>(j) * hkv_ + kvh) * d_;
        double dot = 0;
        for (int t = 0; t < d_; ++t) dot += static_cast<double>(q[t]) * k[t];
        sc[j] = dot * scale_;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (int j = 0; j <= pos; ++j) {
        const float* v = v_[s].data() + (static_cast<int64_t>(j) * hkv_ + kvh) * d_;
        for (int t = 0; t < d_; ++t) out[h * d_ + t] += sc[j] / sum * v[t];
      }
    }
    return out;
  }

  void set_scale(float scale) { scale_ = scale; }
  int64_t row() const { return static_cast<int64_t>(hq_) * d_; }

 private:
  std::vector<int> lengths_;
  int hq_, hkv_, d_, bs_;
  int max_blocks_ = 0;
  float scale_ = 1.0f;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<std::vector<float>> k_, v_, q_;
  std::vector<float> k_cache_, v_cache_;
};

// Batch: (seq 0: long prefill crossing blocks), (seq 1: decode), (seq 2:
// chunk in the middle), (seq 3: short full prefill).
TEST(KernelsPagedAttention, MatchesReference) {
  uint32_t seed = 1;
  for (int head_dim : {8, 16, 64, 20}) {
    for (int block_size : {1, 3, 16}) {
      for (int ratio : {1, 2, 4}) {
        const int kv_heads = 2;
        PagedFixture f({37, 29, 50, 5}, kv_heads * ratio, kv_heads, head_dim, block_size,
                       seed += 100);
        const std::vector<PagedFixture::Entry> entries = {
            {0, 37, 37}, {1, 29, 1}, {2, 41, 13}, {3, 5, 5}};
        const auto out = f.Run(entries);
        int64_t r = 0;
        int failures = 0;
        for (const auto& e : entries) {
          for (int pos = e.seq_len - e.q_len; pos < e.seq_len; ++pos, ++r) {
            const auto ref = f.Reference(e.seq, pos);
            for (int64_t i = 0; i < f.row(); ++i) {
              const auto ok = Near(out[r * f.row() + i], ref[i], 2e-6, 1e-5);
              if (!ok && ++failures <= 5) {
                ADD_FAILURE() << "seq " << e.seq << " pos " << pos << " i " << i << ": "
                              << ok.message();
              }
            }
          }
        }
        EXPECT_EQ(failures, 0) << "d=" << head_dim << " bs=" << block_size << " ratio=" << ratio;
      }
    }
  }
}

// Large scores (softmax dominated by few keys) still match.
TEST(KernelsPagedAttention, PeakedSoftmaxMatchesReference) {
  PagedFixture f({70}, 4, 1, 16, 16, 77);
  f.set_scale(20.0f);  // scores span tens: exercises the running-max rescaling
  const auto out = f.Run({{0, 70, 70}});
  for (int pos = 0; pos < 70; ++pos) {
    const auto ref = f.Reference(0, pos);
    for (int64_t i = 0; i < f.row(); ++i) {
      // fp32 scores of magnitude ~40 carry ~40 * 6e-8 absolute error, i.e.
      // ~2.4e-6 relative in each weight: the tolerance scales with max|v| = 3.
      ASSERT_TRUE(Near(out[pos * f.row() + i], ref[i], 1e-5, 1e-5)) << pos << " " << i;
    }
  }
}

// A sequence's rows are bit-identical alone and inside a batch with others.
TEST(KernelsPagedAttention, BatchInvariantBitForBit) {
  for (int block_size : {1, 3, 16}) {
    PagedFixture f({40, 23, 60}, 8, 2, 64, block_size, 500 + block_size);
    const auto alone = f.Run({{1, 23, 9}});
    const auto batched = f.Run({{0, 40, 40}, {1, 23, 9}, {2, 60, 1}});
    const auto reordered = f.Run({{2, 60, 3}, {1, 23, 9}});
    EXPECT_TRUE(BitEqual(alone.data(), batched.data() + 40 * f.row(), 9 * f.row()));
    EXPECT_TRUE(BitEqual(alone.data(), reordered.data() + 3 * f.row(), 9 * f.row()));
  }
}

// One prefill of L tokens == chunks of 5, 7, then decode steps of 1.
TEST(KernelsPagedAttention, ChunkedPrefillInvariantBitForBit) {
  for (int block_size : {1, 3, 16}) {
    for (int ratio : {1, 4}) {
      const int len = 20;
      PagedFixture f({len, 11}, 2 * ratio, 2, 16, block_size, 900 + block_size + ratio);
      const auto full = f.Run({{0, len, len}});
      std::vector<float> pieced;
      auto append = [&](const std::vector<float>& v) {
        pieced.insert(pieced.end(), v.begin(), v.end());
      };
      append(f.Run({{0, 5, 5}}));
      const auto mixed = f.Run({{1, 11, 11}, {0, 12, 7}});  // chunk batched with another seq
      pieced.insert(pieced.end(), mixed.begin() + 11 * f.row(), mixed.end());
      for (int pos = 12; pos < len; ++pos) append(f.Run({{0, pos + 1, 1}}));
      ASSERT_EQ(pieced.size(), full.size());
      EXPECT_TRUE(BitEqual(full.data(), pieced.data(), static_cast<int64_t>(full.size())))
          << "block_size " << block_size << " ratio " << ratio;
    }
  }
}

TEST(KernelsPagedAttention, ThreadCountInvariantBitForBit) {
  PagedFixture f({64, 33, 17}, 8, 2, 64, 16, 1234);
  const std::vector<PagedFixture::Entry> entries = {{0, 64, 64}, {1, 33, 1}, {2, 17, 17}};
  // A lone decode: few (token, KV head) items, so heads get sliced per thread count.
  const std::vector<PagedFixture::Entry> decode = {{0, 64, 1}};
  SetNumThreads(1);
  const auto one = f.Run(entries);
  const auto one_decode = f.Run(decode);
  SetNumThreads(2);
  const auto two = f.Run(entries);
  const auto two_decode = f.Run(decode);
  SetNumThreads(3);
  const auto three_decode = f.Run(decode);
  SetNumThreads(0);
  EXPECT_TRUE(BitEqual(one.data(), two.data(), static_cast<int64_t>(one.size())));
  EXPECT_TRUE(BitEqual(one_decode.data(), two_decode.data(), f.row()));
  EXPECT_TRUE(BitEqual(one_decode.data(), three_decode.data(), f.row()));
  // And the decode row equals the same query inside the full prefill.
  EXPECT_TRUE(BitEqual(one_decode.data(), one.data() + 63 * f.row(), f.row()));
}

// WriteKvCache then PagedAttention: the engine's order of calls.
TEST(KernelsPagedAttention, AfterWriteKvCacheMatchesReference) {
  const int hq = 4, hkv = 2, d = 16, bs = 3, len = 10;
  const int64_t kv_dim = hkv * d;
  const std::vector<int32_t> table = {5, 0, 3, 1};  // physical blocks, out of order
  std::vector<float> k_cache(6 * bs * kv_dim, 0.5f), v_cache(6 * bs * kv_dim, 0.5f);
  const auto k = RandomVector(len * kv_dim, 1);
  const auto v = RandomVector(len * kv_dim, 2);
  const auto q = RandomVector(len * hq * d, 3);
  std::vector<int32_t> slots(len);
  for (int p = 0; p < len; ++p) slots[p] = table[p / bs] * bs + p % bs;
  WriteKvCache(k.data(), v.data(), slots.data(), len, kv_dim, k_cache.data(), v_cache.data());
  std::vector<float> out(q.size());
  const int32_t query_start[] = {0, len};
  const int32_t seq_lens[] = {len};
  PagedAttentionParams p;
  p.q = q.data();
  p.k_cache = k_cache.data();
  p.v_cache = v_cache.data();
  p.out = out.data();
  p.query_start = query_start;
  p.seq_lens = seq_lens;
  p.block_tables = table.data();
  p.num_seqs = 1;
  p.max_blocks_per_seq = 4;
  p.num_q_heads = hq;
  p.num_kv_heads = hkv;
  p.head_dim = d;
  p.block_size = bs;
  p.scale = 0.25f;
  PagedAttention(p);
  for (int pos = 0; pos < len; ++pos) {
    for (int h = 0; h < hq; ++h) {
      const int kvh = h / 2;
      std::vector<double> sc(pos + 1);
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j <= pos; ++j) {
        double dot = 0;
        for (int t = 0; t < d; ++t)
          dot += double(q[(pos * hq + h) * d + t]) * k[j * kv_dim + kvh * d + t];
        mx = std::max(mx, sc[j] = dot * 0.25);
      }
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (int t = 0; t < d; ++t) {
        double ref = 0;
        for (int j = 0; j <= pos; ++j) ref += sc[j] / sum * v[j * kv_dim + kvh * d + t];
        ASSERT_TRUE(Near(out[(pos * hq + h) * d + t], ref, 2e-6, 1e-5)) << pos << " " << h;
      }
    }
  }
}

}  // namespace
}  // namespace inferd::kernels
