// tests/unit/kernels/attention_test.cc — PagedAttention against a double
// reference (shuffled physical blocks, GQA, odd block sizes, varlen batches,
// speculative tree masks), and bit-for-bit invariance to batching, chunked
// prefill, thread count and tree layout (a tree row == plain decoding of its
// path laid out contiguously).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::Near;
using testing::RandomVector;

// One sequence's contents, position by position.
struct SeqData {
  std::vector<float> k, v;  // [len, num_kv_heads * head_dim]
  std::vector<float> q;     // [len, num_q_heads * head_dim]: the query of each position
};

// Random contents for sequences of the given lengths.
std::vector<SeqData> RandomSeqs(const std::vector<int>& lengths, int num_q_heads, int num_kv_heads,
                                int head_dim, uint32_t seed) {
  const int64_t slot_dim = static_cast<int64_t>(num_kv_heads) * head_dim;
  std::vector<SeqData> seqs;
  for (size_t s = 0; s < lengths.size(); ++s) {
    const int64_t len = lengths[s];
    seqs.push_back({RandomVector(len * slot_dim, seed + 10 + 3 * s),
                    RandomVector(len * slot_dim, seed + 11 + 3 * s),
                    RandomVector(len * num_q_heads * head_dim, seed + 12 + 3 * s)});
  }
  return seqs;
}

// A set of sequences with K, V and a query for every position, stored in a
// paged cache whose physical blocks are shuffled (and interleaved with blocks
// of garbage that no sequence owns).
class PagedFixture {
 public:
  PagedFixture(std::vector<int> lengths, int num_q_heads, int num_kv_heads, int head_dim,
               int block_size, uint32_t seed)
      : PagedFixture(Contents{}, RandomSeqs(lengths, num_q_heads, num_kv_heads, head_dim, seed),
                     num_q_heads, num_kv_heads, head_dim, block_size, seed) {}

  // Sequences with the given contents; `seed` shuffles the blocks.
  struct Contents {};
  PagedFixture(Contents, std::vector<SeqData> seqs, int num_q_heads, int num_kv_heads, int head_dim,
               int block_size, uint32_t seed)
      : hq_(num_q_heads), hkv_(num_kv_heads), d_(head_dim), bs_(block_size) {
    const int64_t slot_dim = static_cast<int64_t>(hkv_) * d_;
    for (const SeqData& sd : seqs) lengths_.push_back(static_cast<int>(sd.k.size() / slot_dim));
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
    k_cache_ = RandomVector(total_blocks * bs_ * slot_dim, seed + 1, -3.0f, 3.0f);
    v_cache_ = RandomVector(total_blocks * bs_ * slot_dim, seed + 2, -3.0f, 3.0f);
    int next = 0;
    for (size_t s = 0; s < lengths_.size(); ++s) {
      const int len = lengths_[s];
      std::vector<int32_t> row(static_cast<size_t>(max_blocks_), phys.back());  // spare: garbage
      for (int b = 0; b * bs_ < len; ++b) row[b] = phys[next++];
      tables_.push_back(row);
      k_.push_back(std::move(seqs[s].k));
      v_.push_back(std::move(seqs[s].v));
      q_.push_back(std::move(seqs[s].q));
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
  // With `words` (one vector per entry) the call has a tree_mask: an entry's
  // words, or when its vector is empty, causal words for q_len <= 64 and, for
  // longer entries, valid-looking non-causal words the kernel must not read.
  std::vector<float> Run(const std::vector<Entry>& entries,
                         const std::vector<std::vector<uint64_t>>& words = {}) const {
    std::vector<int32_t> query_start{0}, seq_lens, tables;
    std::vector<float> q;
    std::vector<uint64_t> mask;
    const int64_t row = static_cast<int64_t>(hq_) * d_;
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      query_start.push_back(query_start.back() + e.q_len);
      seq_lens.push_back(e.seq_len);
      tables.insert(tables.end(), tables_[e.seq].begin(), tables_[e.seq].end());
      const auto& qs = q_[e.seq];
      q.insert(q.end(), qs.begin() + (e.seq_len - e.q_len) * row, qs.begin() + e.seq_len * row);
      if (words.empty()) continue;
      if (!words[i].empty()) {
        EXPECT_EQ(static_cast<int>(words[i].size()), e.q_len);
        mask.insert(mask.end(), words[i].begin(), words[i].end());
      } else {
        for (int r = 0; r < e.q_len; ++r) {
          if (e.q_len <= 64) {
            mask.push_back((uint64_t{2} << r) - 1);
          } else {
            mask.push_back(r < 64 ? (uint64_t{1} << r) | 1 : ~uint64_t{0});
          }
        }
      }
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
    if (!words.empty()) {
      EXPECT_EQ(mask.size(), q.size() / row);
      p.tree_mask = mask.data();
    }
    PagedAttention(p);
    return out;
  }

  // Double-precision reference for the query of sequence s at position pos.
  std::vector<double> Reference(int s, int pos) const {
    std::vector<int> keys(static_cast<size_t>(pos) + 1);
    std::iota(keys.begin(), keys.end(), 0);
    return Reference(s, pos, keys);
  }

  // The reference for a tree row: the query at position base + r of sequence
  // s sees the context [0, base) and the new tokens base + j for the set bits
  // j of `word`.
  std::vector<double> TreeReference(int s, int base, int r, uint64_t word) const {
    std::vector<int> keys(static_cast<size_t>(base));
    std::iota(keys.begin(), keys.end(), 0);
    for (int j = 0; j < 64; ++j) {
      if ((word >> j) & 1) keys.push_back(base + j);
    }
    return Reference(s, base + r, keys);
  }

  // Softmax attention of the query at position `qpos` of sequence s over the
  // keys at positions `keys`, in double.
  std::vector<double> Reference(int s, int qpos, const std::vector<int>& keys) const {
    const int group = hq_ / hkv_;
    std::vector<double> out(static_cast<size_t>(hq_) * d_, 0.0);
    for (int h = 0; h < hq_; ++h) {
      const float* q = q_[s].data() + (static_cast<int64_t>(qpos) * hq_ + h) * d_;
      const int kvh = h / group;
      std::vector<double> sc(keys.size());
      double mx = -INFINITY;
      for (size_t j = 0; j < keys.size(); ++j) {
        const float* k = k_[s].data() + (static_cast<int64_t>(keys[j]) * hkv_ + kvh) * d_;
        double dot = 0;
        for (int t = 0; t < d_; ++t) dot += static_cast<double>(q[t]) * k[t];
        sc[j] = dot * scale_;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (size_t j = 0; j < keys.size(); ++j) {
        const float* v = v_[s].data() + (static_cast<int64_t>(keys[j]) * hkv_ + kvh) * d_;
        for (int t = 0; t < d_; ++t) out[h * d_ + t] += sc[j] / sum * v[t];
      }
    }
    return out;
  }

  // The contents of sequence s at `positions`, in that order, as a new
  // sequence (e.g. a tree row's path laid out contiguously).
  SeqData Gather(int s, const std::vector<int>& positions) const {
    const int64_t kv = static_cast<int64_t>(hkv_) * d_;
    SeqData out;
    for (int pos : positions) {
      out.k.insert(out.k.end(), k_[s].begin() + pos * kv, k_[s].begin() + (pos + 1) * kv);
      out.v.insert(out.v.end(), v_[s].begin() + pos * kv, v_[s].begin() + (pos + 1) * kv);
      out.q.insert(out.q.end(), q_[s].begin() + pos * row(), q_[s].begin() + (pos + 1) * row());
    }
    return out;
  }

  // Moves sequence s's token at src[i] to dst[i], i in order, with
  // CopyKvSlots on the paged cache (K and V) and by hand on the fixture's
  // logical copy (K, V and the query travel with their token).
  void MoveTokens(int s, const std::vector<int>& src, const std::vector<int>& dst) {
    std::vector<int32_t> src_slots, dst_slots;
    const int64_t kv = static_cast<int64_t>(hkv_) * d_;
    for (size_t i = 0; i < src.size(); ++i) {
      src_slots.push_back(Slot(s, src[i]));
      dst_slots.push_back(Slot(s, dst[i]));
      std::copy_n(k_[s].begin() + src[i] * kv, kv, k_[s].begin() + dst[i] * kv);
      std::copy_n(v_[s].begin() + src[i] * kv, kv, v_[s].begin() + dst[i] * kv);
      std::copy_n(q_[s].begin() + src[i] * row(), row(), q_[s].begin() + dst[i] * row());
    }
    CopyKvSlots(src_slots.data(), dst_slots.data(), static_cast<int64_t>(src.size()), kv,
                k_cache_.data(), v_cache_.data());
  }

  // A fixture with the same head layout holding `seqs`.
  PagedFixture WithSeqs(std::vector<SeqData> seqs, int block_size, uint32_t seed) const {
    PagedFixture f(Contents{}, std::move(seqs), hq_, hkv_, d_, block_size, seed);
    f.set_scale(scale_);
    return f;
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

  int32_t Slot(int s, int pos) const { return tables_[s][pos / bs_] * bs_ + pos % bs_; }
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

// Every CPU kernel path (kernels/cpu_isa.h) gives the AVX2 path's bits:
// head dims with whole zmm blocks, a ymm block and a tail, prefill, chunks
// and decode rows, GQA groups, a long row crossing many key tiles.
TEST(KernelsPagedAttention, EveryCpuPathGivesTheAvx2Bits) {
  for (int head_dim : {8, 16, 20, 64, 72, 128}) {
    for (int ratio : {1, 4}) {
      PagedFixture f({37, 29, 150}, 2 * ratio, 2, head_dim, 16, 4000 + head_dim + ratio);
      const std::vector<PagedFixture::Entry> entries = {{0, 37, 37}, {1, 29, 1}, {2, 150, 13}};
      std::vector<float> avx2;
      testing::ForEachCpuIsa([&](CpuIsa isa) {
        const auto out = f.Run(entries);
        if (isa == CpuIsa::kAvx2) {
          avx2 = out;
          return;
        }
        ASSERT_EQ(out.size(), avx2.size());
        EXPECT_TRUE(BitEqual(out.data(), avx2.data(), static_cast<int64_t>(out.size())))
            << "d=" << head_dim << " ratio=" << ratio;
      });
    }
  }
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

// ---- Tree attention (speculative verification) ----

// tree_mask words of a tree given by parents (node 0 the root, parents[0] =
// -1, parents[j] < j): each node sees itself and its ancestors.
std::vector<uint64_t> TreeWords(const std::vector<int>& parents) {
  std::vector<uint64_t> words;
  for (size_t j = 0; j < parents.size(); ++j) {
    words.push_back((parents[j] < 0 ? 0 : words[parents[j]]) | (uint64_t{1} << j));
  }
  return words;
}

struct TreeShape {
  std::string name;
  std::vector<int> parents;
};

// Medusa-style candidates: a root plus one node per path of top-k choices
// (a digit per depth: "01" = the head-1 top-1 candidate's head-2 top-2 one),
// ordered by depth, then lexicographically (Medusa's own order).
std::vector<int> MedusaParents() {
  std::vector<std::string> paths = {"0",   "1",    "2",    "3",    "00",    "01",   "02",  "10",
                                    "11",  "20",   "21",   "30",   "000",   "001",  "010", "100",
                                    "200", "0000", "0001", "0100", "00000", "00001"};
  std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::vector<int> parents = {-1};
  for (const std::string& path : paths) {
    if (path.size() == 1) {
      parents.push_back(0);
      continue;
    }
    const auto it = std::find(paths.begin(), paths.end(), path.substr(0, path.size() - 1));
    EXPECT_NE(it, paths.end()) << path;
    parents.push_back(1 + static_cast<int>(it - paths.begin()));
  }
  return parents;
}

// Tree shapes, all in topological order (parents before children).
std::vector<TreeShape> TreeShapes() {
  std::vector<TreeShape> shapes;
  std::vector<int> chain(64), star(12, 0), binary(31), deep(64), bushy(64);
  std::mt19937 rng(42);
  for (int j = 0; j < 64; ++j) {
    chain[j] = j - 1;
    // Parent among the last three nodes: depth ~30, paths cross several tiles.
    deep[j] = j == 0 ? -1 : std::uniform_int_distribution<int>(std::max(0, j - 3), j - 1)(rng);
    bushy[j] = j == 0 ? -1 : std::uniform_int_distribution<int>(0, j - 1)(rng);
  }
  star[0] = -1;
  for (int j = 0; j < 31; ++j) binary[j] = j == 0 ? -1 : (j - 1) / 2;
  shapes.push_back({"chain64", chain});  // every word causal
  shapes.push_back({"star12", star});
  shapes.push_back({"medusa", MedusaParents()});
  shapes.push_back({"binary31", binary});
  shapes.push_back({"deep64", deep});
  shapes.push_back({"bushy64", bushy});
  return shapes;
}

std::vector<int> ShapeParents(const std::string& name) {
  for (const TreeShape& shape : TreeShapes()) {
    if (shape.name == name) return shape.parents;
  }
  ADD_FAILURE() << "no tree shape " << name;
  return {};
}

// Positions in sequence order that a tree row sees: context, then set bits.
std::vector<int> PathPositions(int base, uint64_t word) {
  std::vector<int> pos(static_cast<size_t>(base));
  std::iota(pos.begin(), pos.end(), 0);
  for (int j = 0; j < 64; ++j) {
    if ((word >> j) & 1) pos.push_back(base + j);
  }
  return pos;
}

// Checks rows [row0, row0 + words.size()) of `out` (the tree rows of sequence
// s, context length `base`) against their paths decoded plainly: each path is
// laid out contiguously in a second cache (block size `other_bs`, another
// shuffle) and run causally, as a decode of its last token and as one chunk of
// all its new tokens. Every value must match bit for bit. Returns the number
// of mismatched rows; reports the first few.
int PathMismatches(const PagedFixture& f, int s, int base, const std::vector<uint64_t>& words,
                   const std::vector<float>& out, int64_t row0, int other_bs,
                   const std::string& what) {
  const int64_t row = f.row();
  int mismatches = 0;
  for (size_t r = 0; r < words.size(); ++r) {
    const std::vector<int> positions = PathPositions(base, words[r]);
    const int len = static_cast<int>(positions.size());
    const int m = std::popcount(words[r]);
    const PagedFixture g =
        f.WithSeqs({f.Gather(s, positions)}, other_bs, 7000 + static_cast<uint32_t>(r));
    const auto decode = g.Run({{0, len, 1}});
    if (!BitEqual(decode.data(), out.data() + (row0 + r) * row, row) && ++mismatches <= 5) {
      ADD_FAILURE() << what << ": tree row " << r << " != decode of its path";
    }
    const auto chunk = g.Run({{0, len, m}});
    for (int i = 0; i < m; ++i) {
      const int node = positions[base + i] - base;
      if (!BitEqual(chunk.data() + i * row, out.data() + (row0 + node) * row, row) &&
          ++mismatches <= 5) {
        ADD_FAILURE() << what << ": tree row " << node << " != row " << i << " of the chunk of row "
                      << r << "'s path";
      }
    }
  }
  return mismatches;
}

// Counts elements of rows [row0, row0 + words.size()) off their tree
// reference; reports the first few.
int TreeReferenceFailures(const PagedFixture& f, int s, int base,
                          const std::vector<uint64_t>& words, const std::vector<float>& out,
                          int64_t row0, const std::string& what) {
  int failures = 0;
  for (size_t r = 0; r < words.size(); ++r) {
    const auto ref = f.TreeReference(s, base, static_cast<int>(r), words[r]);
    for (int64_t i = 0; i < f.row(); ++i) {
      const auto ok = Near(out[(row0 + r) * f.row() + i], ref[i], 2e-6, 1e-5);
      if (!ok && ++failures <= 5)
        ADD_FAILURE() << what << " row " << r << " i " << i << ": " << ok.message();
    }
  }
  return failures;
}

TEST(KernelsPagedAttentionTree, MatchesReferenceAndDecodedPathsBitForBit) {
  uint32_t seed = 3;
  for (const TreeShape& shape : TreeShapes()) {
    const std::vector<uint64_t> words = TreeWords(shape.parents);
    const int n = static_cast<int>(words.size());
    for (int head_dim : {13, 64}) {
      for (int block_size : {16, 32}) {
        for (int ratio : {1, 4, 8}) {
          for (int ctx : {0, 1, 15, 16, 17, 100}) {
            const int kv_heads = 2;
            PagedFixture f({ctx + n}, kv_heads * ratio, kv_heads, head_dim, block_size, ++seed);
            const auto out = f.Run({{0, ctx + n, n}}, {words});
            const std::string what = shape.name + " d=" + std::to_string(head_dim) +
                                     " bs=" + std::to_string(block_size) +
                                     " ratio=" + std::to_string(ratio) +
                                     " ctx=" + std::to_string(ctx);
            EXPECT_EQ(TreeReferenceFailures(f, 0, ctx, words, out, 0, what), 0) << what;
            const int other_bs = 48 - block_size;  // the path's cache: the other block size
            EXPECT_EQ(PathMismatches(f, 0, ctx, words, out, 0, other_bs, what), 0) << what;
          }
        }
      }
    }
  }
}

// A batch mixing tree sequences with causal prefill chunks, a decode and a
// q_len > 64 prefill whose (non-causal) words must be ignored.
TEST(KernelsPagedAttentionTree, MixedBatchMatchesReferenceAndIsInvariant) {
  const std::vector<uint64_t> w_medusa = TreeWords(MedusaParents());
  const std::vector<uint64_t> w_star = TreeWords(ShapeParents("star12"));
  const std::vector<uint64_t> w_deep = TreeWords(ShapeParents("deep64"));
  const int n_medusa = static_cast<int>(w_medusa.size());
  for (int block_size : {16, 32}) {
    for (int ratio : {1, 4, 8}) {
      const std::string what =
          "bs=" + std::to_string(block_size) + " ratio=" + std::to_string(ratio);
      // 0: 17 context + Medusa tree; 1: chunk 13 of 45; 2: decode at 100; 3: prefill of 70 of
      // 90; 4: star with no context; 5: 100 context + deep 64-node tree.
      PagedFixture f({17 + n_medusa, 45, 100, 90, 12, 164}, 2 * ratio, 2, 72, block_size,
                     100 + block_size + ratio);
      const std::vector<PagedFixture::Entry> entries = {{0, 17 + n_medusa, n_medusa},
                                                        {1, 45, 13},
                                                        {2, 100, 1},
                                                        {3, 90, 70},
                                                        {4, 12, 12},
                                                        {5, 164, 64}};
      const std::vector<std::vector<uint64_t>> words = {w_medusa, {}, {}, {}, w_star, w_deep};
      std::vector<int64_t> row0 = {0};
      for (const auto& e : entries) row0.push_back(row0.back() + e.q_len);
      const int64_t row = f.row();

      const auto out = f.Run(entries, words);
      // Every row against the double reference.
      int failures = TreeReferenceFailures(f, 0, 17, w_medusa, out, row0[0], what + " medusa") +
                     TreeReferenceFailures(f, 4, 0, w_star, out, row0[4], what + " star") +
                     TreeReferenceFailures(f, 5, 100, w_deep, out, row0[5], what + " deep");
      for (int e : {1, 2, 3}) {
        for (int i = 0; i < entries[e].q_len; ++i) {
          const int pos = entries[e].seq_len - entries[e].q_len + i;
          const auto ref = f.Reference(entries[e].seq, pos);
          for (int64_t t = 0; t < row; ++t) {
            const auto ok = Near(out[(row0[e] + i) * row + t], ref[t], 2e-6, 1e-5);
            if (!ok && ++failures <= 5)
              ADD_FAILURE() << what << " entry " << e << ": " << ok.message();
          }
        }
      }
      EXPECT_EQ(failures, 0) << what;

      // Causal rows: bit-identical to the call without a mask (so the mask,
      // causal words and the ignored q_len > 64 words change nothing).
      const auto causal = f.Run({entries[1], entries[2], entries[3]});
      EXPECT_TRUE(BitEqual(causal.data(), out.data() + row0[1] * row, (row0[4] - row0[1]) * row))
          << what;

      // Tree rows: bit-identical alone, and to plain decoding of their paths.
      for (int e : {0, 4, 5}) {
        const auto alone = f.Run({entries[e]}, {words[e]});
        EXPECT_TRUE(BitEqual(alone.data(), out.data() + row0[e] * row, entries[e].q_len * row))
            << what << " entry " << e;
      }
      const int other_bs = 48 - block_size;
      EXPECT_EQ(PathMismatches(f, 0, 17, w_medusa, out, row0[0], other_bs, what) +
                    PathMismatches(f, 4, 0, w_star, out, row0[4], other_bs, what) +
                    PathMismatches(f, 5, 100, w_deep, out, row0[5], other_bs, what),
                0)
          << what;

      // Thread count: the whole call bit-identical with 1, 2, 3 threads.
      for (int threads : {1, 2, 3}) {
        SetNumThreads(threads);
        const auto again = f.Run(entries, words);
        EXPECT_TRUE(BitEqual(again.data(), out.data(), static_cast<int64_t>(out.size())))
            << what << " threads=" << threads;
      }
      SetNumThreads(0);
    }
  }
}

// The engine's verify-then-accept sequence: tree attention, CopyKvSlots
// moving the accepted path to consecutive positions, then plain attention
// over the compacted sequence equals the tree rows bit for bit.
TEST(KernelsPagedAttentionTree, AcceptedPathAfterCopyKvSlotsEqualsTreeRows) {
  const std::vector<uint64_t> words = TreeWords(MedusaParents());
  const int n = static_cast<int>(words.size());
  for (int ctx : {0, 15, 40}) {
    for (int accepted : {n - 1, n - 3, 7}) {  // the last node of the accepted path
      PagedFixture f({ctx + n}, 8, 2, 64, 16, 300 + ctx + accepted);
      const auto tree = f.Run({{0, ctx + n, n}}, {words});
      std::vector<int> src, dst;
      for (int j = 0; j < n; ++j) {
        if ((words[accepted] >> j) & 1) {
          dst.push_back(ctx + static_cast<int>(src.size()));
          src.push_back(ctx + j);
        }
      }
      f.MoveTokens(0, src, dst);
      const int m = static_cast<int>(src.size());
      const auto plain = f.Run({{0, ctx + m, m}});
      for (int i = 0; i < m; ++i) {
        EXPECT_TRUE(
            BitEqual(plain.data() + i * f.row(), tree.data() + (src[i] - ctx) * f.row(), f.row()))
            << "ctx " << ctx << " accepted node " << accepted << " path node " << i;
      }
    }
  }
}

TEST(KernelsPagedAttentionTreeDeathTest, WordWithoutItsOwnBitAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PagedFixture f({20}, 4, 2, 16, 16, 5);
  std::vector<uint64_t> words = TreeWords({-1, 0, 0, 1});
  words[2] = 0b1;  // row 2 does not see itself
  EXPECT_DEATH(f.Run({{0, 20, 4}}, {words}), "bit r must be set");
  words[2] = 0b10101;  // row 2 sees a later token
  EXPECT_DEATH(f.Run({{0, 20, 4}}, {words}), "bit r must be set");
}

}  // namespace
}  // namespace inferd::kernels
