// tests/unit/kernels/dtype_kernels_test.cc — bf16/fp16 weights and KV cache:
// the scalar conversions of kernels/dtype.h against F16C and a double
// reference, and every op that reads or writes a 16-bit dtype against its fp32
// instance on the widened values (ops.h's contract: exactly the same bits).
// Matmul's are in dtype_matmul_test.cc.
// Sizes are odd so that vector tails and edge tiles are exercised.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu_isa.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/dtype_test_util.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::ForEachCpuIsa;
using testing::RandomVector;

using testing::Bits;
using testing::FromBits;
using testing::IsBF16NaN;
using testing::IsF16NaN;
using testing::kNarrowTypes;
using testing::Narrow;
using testing::NarrowScalar;
using testing::SameBits;
using testing::Widen;
using testing::WidenScalar;

// ---- Scalar conversions ----

// Values at and around the fp16 edges: zeros, infinities, NaNs with payloads,
// the overflow threshold, the subnormal range and its ties.
std::vector<float> F16Specials() {
  const float two_m25 = std::ldexp(1.0f, -25), two_m24 = std::ldexp(1.0f, -24);
  std::vector<float> v = {
      0.0f,
      -0.0f,
      INFINITY,
      -INFINITY,
      FromBits(0x7FC00000u),  // quiet NaN
      FromBits(0xFFC00000u),
      FromBits(0x7FC00001u),  // payload only in the dropped bits
      FromBits(0x7F800001u),  // signalling NaN, lowest payload
      FromBits(0x7FA00000u),  // signalling NaN, payload in the kept bits
      FromBits(0xFFB12345u),
      FromBits(0x7FFFFFFFu),
      FromBits(0x7F802000u),  // signalling, payload exactly the lowest kept bit
      65504.0f,
      65519.99f,
      65520.0f,  // tie between 65504 and 65536: rounds to even = infinity
      65536.0f,
      1e10f,
      std::numeric_limits<float>::max(),
      two_m24,
      two_m25,               // tie between 0 and 2^-24: rounds to 0
      two_m25 * 1.0000001f,  // just above the tie: 2^-24
      std::nextafter(two_m25, 0.0f),
      3 * two_m25,               // tie between 1 and 2 ulps: 2
      5 * two_m25,               // tie between 2 and 3 ulps: 2
      7 * two_m25,               // tie between 3 and 4 ulps: 4
      1023 * two_m24 + two_m25,  // tie between the largest subnormal and 2^-14
      std::ldexp(1.0f, -14),
      std::ldexp(1.0f, -14) - two_m25,
      std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<float>::min(),
      1.0f + std::ldexp(1.0f, -11),      // tie: 1
      1.0f + 3 * std::ldexp(1.0f, -11),  // tie: up to the even 1 + 2^-9
      2048.5f,
      2049.0f,  // tie at integer spacing 2
      2051.0f,
  };
  const size_t base = v.size();
  for (size_t i = 0; i < base; ++i) v.push_back(-v[i]);
  // Neighbours of every finite special.
  for (size_t i = 0; i < 2 * base; ++i) {
    if (!std::isfinite(v[i])) continue;
    v.push_back(std::nextafter(v[i], INFINITY));
    v.push_back(std::nextafter(v[i], -INFINITY));
  }
  return v;
}

uint16_t HardwareF16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

// Compares F32ToF16(f) with F16C: equal bits, or both NaN for a NaN input.
::testing::AssertionResult F16MatchesHardware(float f) {
  const uint16_t got = F32ToF16(f), want = HardwareF16(f);
  if (std::isnan(f) ? IsF16NaN(got) && IsF16NaN(want) : got == want) {
    return ::testing::AssertionSuccess();
  }
  std::ostringstream msg;
  msg << std::hex << "F32ToF16(0x" << Bits(f) << ") = 0x" << got << ", vcvtps2ph gives 0x" << want;
  return ::testing::AssertionFailure() << msg.str();
}

TEST(KernelsDtypeConvert, F32ToF16MatchesF16C) {
  int failures = 0;
  for (float f : F16Specials()) {
    const auto r = F16MatchesHardware(f);
    if (!r && ++failures <= 10) ADD_FAILURE() << r.message();
  }
  // ~1M random 32-bit patterns (every exponent, NaNs included).
  std::mt19937 rng(2024);
  for (int i = 0; i < (1 << 20); ++i) {
    const auto r = F16MatchesHardware(FromBits(static_cast<uint32_t>(rng())));
    if (!r && ++failures <= 10) ADD_FAILURE() << r.message();
  }
  // Every rounding boundary: the midpoint between each pair of adjacent
  // finite fp16 values (exact in fp32) and its fp32 neighbours.
  for (uint32_t h = 0; h < 0x7C00u; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const float lo = F16ToF32(static_cast<uint16_t>(h | sign));
      const float hi = F16ToF32(static_cast<uint16_t>((h + 1) | sign));  // 0x7C00: infinity
      const float mid = std::isinf(hi) ? (sign ? -65520.0f : 65520.0f) : (lo + hi) / 2;
      for (float f : {mid, std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)}) {
        const auto r = F16MatchesHardware(f);
        if (!r && ++failures <= 10) ADD_FAILURE() << r.message();
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(KernelsDtypeConvert, F16ToF32MatchesF16COnAllPatterns) {
  int failures = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = F16ToF32(static_cast<uint16_t>(h));
    const float want = _cvtsh_ss(static_cast<unsigned short>(h));
    // Every pattern, NaNs included: vcvtph2ps quiets a signalling NaN and so
    // does dtype.h's scalar.
    const bool ok = Bits(got) == Bits(want);
    if (!ok && ++failures <= 10) {
      ADD_FAILURE() << std::hex << "F16ToF32(0x" << h << ") = 0x" << Bits(got)
                    << ", vcvtph2ps gives 0x" << Bits(want);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(KernelsDtypeConvert, BF16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t b = static_cast<uint16_t>(h);
    const uint16_t back = F32ToBF16(BF16ToF32(b));
    if (IsBF16NaN(b)) {
      ASSERT_TRUE(IsBF16NaN(back)) << std::hex << h << " -> " << back;
      ASSERT_EQ(back & 0x8000u, b & 0x8000u) << std::hex << h;
    } else {
      ASSERT_EQ(back, b) << std::hex << h;
    }
  }
}

TEST(KernelsDtypeConvert, BF16TiesToEven) {
  struct Case {
    uint32_t f32;
    uint16_t bf16;
  };
  const Case cases[] = {
      {0x3F808000u, 0x3F80u},                          // tie, kept bit even: down
      {0x3F818000u, 0x3F82u},                          // tie, kept bit odd: up
      {0x3F808001u, 0x3F81u},                          // just above the tie
      {0x3F817FFFu, 0x3F81u},                          // just below the tie
      {0xBF808000u, 0xBF80u},                          // negative ties
      {0xBF818000u, 0xBF82u}, {0x7F7F7FFFu, 0x7F7Fu},  // largest finite stays finite
      {0x7F7F8000u, 0x7F80u},                          // tie above the largest finite: infinity
      {0xFF7F8000u, 0xFF80u}, {0x00008000u, 0x0000u},  // subnormal tie: down to 0
      {0x00018000u, 0x0002u},                          // subnormal tie: up to even
      {0x007F8000u, 0x0080u},  // largest bf16 subnormal + tie: smallest normal
      {0x7F800000u, 0x7F80u}, {0x80000000u, 0x8000u},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(F32ToBF16(FromBits(c.f32)), c.bf16) << std::hex << "0x" << c.f32;
  }
  for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0x7F80FFFFu}) {
    const uint16_t b = F32ToBF16(FromBits(nan));
    EXPECT_TRUE(IsBF16NaN(b)) << std::hex << nan << " -> " << b;
    EXPECT_EQ(b & 0x8000u, (nan >> 16) & 0x8000u) << std::hex << nan;
  }
}

// Nearest bf16 to a finite f, computed in double (ties to even; a value at or
// past the midpoint between the largest finite and 2^128 overflows).
uint16_t ReferenceBF16(float f) {
  const uint32_t u = Bits(f);
  const uint16_t lo = static_cast<uint16_t>(u >> 16);  // truncation, |lo| <= |f|
  const uint16_t hi = static_cast<uint16_t>(lo + 1);   // next away from zero
  const double x = std::fabs(static_cast<double>(f));
  const double vlo = std::fabs(static_cast<double>(BF16ToF32(lo)));
  const double vhi = (hi & 0x7FFFu) == 0x7F80u ? std::ldexp(1.0, 128)
                                               : std::fabs(static_cast<double>(BF16ToF32(hi)));
  const double dlo = x - vlo, dhi = vhi - x;
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1u) == 0 ? lo : hi;
}

TEST(KernelsDtypeConvert, F32ToBF16MatchesDoubleReference) {
  std::mt19937 rng(77);
  int failures = 0, checked = 0;
  while (checked < 100000) {
    const float f = FromBits(static_cast<uint32_t>(rng()));
    if (!std::isfinite(f)) continue;
    ++checked;
    const uint16_t got = F32ToBF16(f), want = ReferenceBF16(f);
    if (got != want && ++failures <= 10) {
      ADD_FAILURE() << std::hex << "F32ToBF16(0x" << Bits(f) << ") = 0x" << got << ", want 0x"
                    << want;
    }
  }
  EXPECT_EQ(failures, 0);
}

// Random values mixed with specials: ties, subnormals, overflow, NaNs.
std::vector<float> ConvertInputs(int64_t n, uint32_t seed) {
  auto v = RandomVector(n, seed, -70000.0f, 70000.0f);
  const auto specials = F16Specials();
  std::mt19937 rng(seed + 1);
  for (int64_t i = 0; i < n; ++i) {
    switch (rng() % 4) {
      case 0:
        v[i] = specials[rng() % specials.size()];
        break;
      case 1:
        v[i] = FromBits(static_cast<uint32_t>(rng()));
        break;
      case 2:
        v[i] *= std::ldexp(1.0f, -30);  // fp16 subnormal range
        break;
      default:
        break;
    }
  }
  return v;
}

TEST(KernelsDtypeConvert, ConvertFromF32MatchesScalar) {
  for (DType t : kNarrowTypes) {
    for (int64_t n : {1, 7, 9, 33, 1001}) {
      const auto src = ConvertInputs(n, static_cast<uint32_t>(n) * 3 + static_cast<uint32_t>(t));
      std::vector<uint16_t> dst(static_cast<size_t>(n) + 9, 0xABCDu);  // guard past the end
      ConvertFromF32(src.data(), n, dst.data(), t);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(dst[i], NarrowScalar(src[i], t))
            << DTypeName(t) << " n=" << n << " i=" << i << std::hex << " x=0x" << Bits(src[i]);
      }
      for (int64_t i = n; i < n + 9; ++i) ASSERT_EQ(dst[i], 0xABCDu) << "wrote past n=" << n;
    }
  }
}

TEST(KernelsDtypeConvert, ConvertToF32MatchesScalar) {
  std::mt19937 rng(5);
  for (DType t : kNarrowTypes) {
    for (int64_t n : {1, 7, 9, 33, 1001}) {
      std::vector<uint16_t> src(static_cast<size_t>(n));
      for (auto& h : src) h = static_cast<uint16_t>(rng());
      std::vector<float> dst(static_cast<size_t>(n) + 9, 12345.0f);
      ConvertToF32(src.data(), t, n, dst.data());
      for (int64_t i = 0; i < n; ++i) {
        const float want = WidenScalar(src[i], t);
        const bool ok = Bits(dst[i]) == Bits(want);
        ASSERT_TRUE(ok) << DTypeName(t) << " n=" << n << " i=" << i << std::hex << " h=0x" << src[i]
                        << ": 0x" << Bits(dst[i]) << " vs 0x" << Bits(want);
      }
      for (int64_t i = n; i < n + 9; ++i) ASSERT_EQ(dst[i], 12345.0f) << "wrote past n=" << n;
    }
  }
}

// ---- Embedding ----

TEST(KernelsDtypeEmbedding, EqualsWidenedRows) {
  for (DType t : kNarrowTypes) {
    for (int64_t hidden : {33, 129}) {
      const int64_t vocab = 37;
      const auto narrow =
          Narrow(RandomVector(vocab * hidden, 40 + static_cast<uint32_t>(hidden), -3.0f, 3.0f), t);
      const std::vector<int32_t> ids = {0, 36, 5, 5, 17, 1, 35, 0, 20, 11, 29};
      const int64_t n = static_cast<int64_t>(ids.size());
      std::vector<float> out(static_cast<size_t>(n * hidden), NAN);
      Embedding(narrow.data(), vocab, hidden, ids.data(), n, out.data(), t);
      std::vector<float> want;
      for (int32_t id : ids) {
        for (int64_t h = 0; h < hidden; ++h)
          want.push_back(WidenScalar(narrow[id * hidden + h], t));
      }
      EXPECT_TRUE(SameBits(out, want)) << DTypeName(t) << " hidden=" << hidden;
    }
  }
}

// ---- KV cache writes and moves ----

TEST(KernelsDtypeWriteKvCache, StoresRoundedRowsAndSkipsNegativeSlots) {
  for (DType t : kNarrowTypes) {
    for (int64_t kv_dim : {51, 200}) {
      const int64_t num_slots = 3 * 5;  // 3 blocks of 5
      const std::vector<int32_t> slots = {7, -1, 0, 14, 3, -1, 9, 10, 2};
      const int64_t n = static_cast<int64_t>(slots.size());
      auto k = RandomVector(n * kv_dim, 60 + static_cast<uint32_t>(kv_dim), -3.0f, 3.0f);
      auto v = RandomVector(n * kv_dim, 61 + static_cast<uint32_t>(kv_dim), -3.0f, 3.0f);
      // A few edge values in the first row: ties, fp16 overflow and subnormals.
      const auto specials = F16Specials();
      for (size_t i = 0; i < std::min<size_t>(specials.size(), static_cast<size_t>(kv_dim)); ++i) {
        k[i] = specials[i];
        v[i] = specials[specials.size() - 1 - i];
      }
      const uint16_t kFill = 0x5A5Au;
      std::vector<uint16_t> kc(static_cast<size_t>(num_slots * kv_dim), kFill), vc(kc);
      WriteKvCache(k.data(), v.data(), slots.data(), n, kv_dim, kc.data(), vc.data(), t);
      std::vector<uint16_t> kw(kc.size(), kFill), vw(kc.size(), kFill);
      for (int64_t i = 0; i < n; ++i) {
        if (slots[i] < 0) continue;
        for (int64_t c = 0; c < kv_dim; ++c) {
          kw[slots[i] * kv_dim + c] = NarrowScalar(k[i * kv_dim + c], t);
          vw[slots[i] * kv_dim + c] = NarrowScalar(v[i * kv_dim + c], t);
        }
      }
      for (size_t i = 0; i < kc.size(); ++i) {
        ASSERT_EQ(kc[i], kw[i]) << DTypeName(t) << " kv_dim=" << kv_dim << " K slot " << i / kv_dim
                                << " col " << i % kv_dim;
        ASSERT_EQ(vc[i], vw[i]) << DTypeName(t) << " kv_dim=" << kv_dim << " V slot " << i / kv_dim
                                << " col " << i % kv_dim;
      }
    }
  }
}

// CopyKvSlots against moving whole rows one at a time, in order.
void ExpectCopyMatchesLoop(DType t, int64_t kv_dim, int64_t num_slots,
                           const std::vector<int32_t>& src, const std::vector<int32_t>& dst,
                           uint32_t seed) {
  auto kc = Narrow(RandomVector(num_slots * kv_dim, seed, -3.0f, 3.0f), t);
  auto vc = Narrow(RandomVector(num_slots * kv_dim, seed + 1, -3.0f, 3.0f), t);
  auto kw = kc, vw = vc;
  for (size_t i = 0; i < src.size(); ++i) {
    for (int64_t c = 0; c < kv_dim; ++c) {
      kw[dst[i] * kv_dim + c] = kw[src[i] * kv_dim + c];
      vw[dst[i] * kv_dim + c] = vw[src[i] * kv_dim + c];
    }
  }
  CopyKvSlots(src.data(), dst.data(), static_cast<int64_t>(src.size()), kv_dim, kc.data(),
              vc.data(), t);
  for (size_t i = 0; i < kc.size(); ++i) {
    ASSERT_EQ(kc[i], kw[i]) << DTypeName(t) << " kv_dim=" << kv_dim << " moves=" << src.size()
                            << " K slot " << i / kv_dim << " col " << i % kv_dim;
    ASSERT_EQ(vc[i], vw[i]) << DTypeName(t) << " kv_dim=" << kv_dim << " moves=" << src.size()
                            << " V slot " << i / kv_dim << " col " << i % kv_dim;
  }
}

TEST(KernelsDtypeCopyKvSlots, EqualsMovingRowsInOrder) {
  for (DType t : kNarrowTypes) {
    for (int64_t kv_dim : {3 * 17, 200}) {
      // A chain a -> b, b -> c (c gets a's row), a self-move, a swap through
      // a temporary, and a row overwritten twice.
      const std::vector<int32_t> src = {4, 9, 6, 1, 2, 11, 1, 0, 5};
      const std::vector<int32_t> dst = {9, 12, 6, 11, 1, 2, 13, 13, 0};
      ExpectCopyMatchesLoop(t, kv_dim, 16, src, dst, 80 + static_cast<uint32_t>(kv_dim));
      // Many random moves: enough work for the pool to split the columns.
      std::mt19937 rng(81 + static_cast<uint32_t>(kv_dim));
      std::vector<int32_t> rs(700), rd(700);
      for (size_t i = 0; i < rs.size(); ++i) {
        rs[i] = static_cast<int32_t>(rng() % 40);
        rd[i] = static_cast<int32_t>(rng() % 40);
      }
      ExpectCopyMatchesLoop(t, kv_dim, 40, rs, rd, 82 + static_cast<uint32_t>(kv_dim));
      SetNumThreads(3);
      ExpectCopyMatchesLoop(t, kv_dim, 40, rs, rd, 83 + static_cast<uint32_t>(kv_dim));
      SetNumThreads(0);
    }
  }
}

// ---- PagedAttention ----

// Sequences in a paged cache with shuffled physical blocks (plus blocks no
// sequence owns), held both narrowed (dtype t) and as fp32 widened values.
struct PagedDtypeCase {
  int hq, hkv, d, bs;
  DType t;
  int max_blocks = 0;
  std::vector<std::vector<int32_t>> tables;
  std::vector<uint16_t> k_narrow, v_narrow;
  std::vector<float> k_wide, v_wide;
  std::vector<std::vector<float>> q;  // per sequence: [len, hq * d]

  PagedDtypeCase(const std::vector<int>& lengths, int hq_, int hkv_, int d_, int bs_, DType t_,
                 uint32_t seed)
      : hq(hq_), hkv(hkv_), d(d_), bs(bs_), t(t_) {
    const int64_t slot_dim = static_cast<int64_t>(hkv) * d;
    int total_blocks = 3;  // garbage
    for (int len : lengths) {
      const int nb = (len + bs - 1) / bs;
      total_blocks += nb;
      max_blocks = std::max(max_blocks, nb + 1);
    }
    std::vector<int32_t> phys(static_cast<size_t>(total_blocks));
    std::iota(phys.begin(), phys.end(), 0);
    std::shuffle(phys.begin(), phys.end(), std::mt19937(seed));
    k_narrow = Narrow(RandomVector(total_blocks * bs * slot_dim, seed + 1, -3.0f, 3.0f), t);
    v_narrow = Narrow(RandomVector(total_blocks * bs * slot_dim, seed + 2, -3.0f, 3.0f), t);
    k_wide = Widen(k_narrow, t);
    v_wide = Widen(v_narrow, t);
    int next = 0;
    for (size_t s = 0; s < lengths.size(); ++s) {
      std::vector<int32_t> row(static_cast<size_t>(max_blocks), phys.back());
      for (int b = 0; b * bs < lengths[s]; ++b) row[b] = phys[next++];
      tables.push_back(row);
      q.push_back(RandomVector(int64_t{lengths[s]} * hq * d, seed + 10 + static_cast<uint32_t>(s)));
    }
  }

  struct Entry {
    int seq, seq_len, q_len;
    std::vector<uint64_t> words;  // tree rows; empty: causal
  };

  // One PagedAttention call over `entries`, reading the narrowed cache
  // (narrow = true) or the widened fp32 one.
  std::vector<float> Run(const std::vector<Entry>& entries, bool narrow, bool with_mask) const {
    std::vector<int32_t> query_start{0}, seq_lens, flat_tables;
    std::vector<float> qs;
    std::vector<uint64_t> mask;
    const int64_t row = static_cast<int64_t>(hq) * d;
    for (const Entry& e : entries) {
      query_start.push_back(query_start.back() + e.q_len);
      seq_lens.push_back(e.seq_len);
      flat_tables.insert(flat_tables.end(), tables[e.seq].begin(), tables[e.seq].end());
      qs.insert(qs.end(), q[e.seq].begin() + (e.seq_len - e.q_len) * row,
                q[e.seq].begin() + e.seq_len * row);
      for (int r = 0; r < e.q_len; ++r) {
        mask.push_back(!e.words.empty() ? e.words[r] : (uint64_t{2} << r) - 1);
      }
    }
    std::vector<float> out(qs.size(), NAN);
    PagedAttentionParams p;
    p.q = qs.data();
    p.k_cache = narrow ? static_cast<const void*>(k_narrow.data()) : k_wide.data();
    p.v_cache = narrow ? static_cast<const void*>(v_narrow.data()) : v_wide.data();
    p.kv_dtype = narrow ? t : DType::kF32;
    p.out = out.data();
    p.query_start = query_start.data();
    p.seq_lens = seq_lens.data();
    p.block_tables = flat_tables.data();
    p.num_seqs = static_cast<int32_t>(entries.size());
    p.max_blocks_per_seq = max_blocks;
    p.num_q_heads = hq;
    p.num_kv_heads = hkv;
    p.head_dim = d;
    p.block_size = bs;
    p.scale = 1.0f / std::sqrt(static_cast<float>(d));
    if (with_mask) p.tree_mask = mask.data();
    PagedAttention(p);
    return out;
  }
};

// tree_mask words of a tree given by parents (parents[0] = -1, parents[j] < j).
std::vector<uint64_t> TreeWords(const std::vector<int>& parents) {
  std::vector<uint64_t> words;
  for (size_t j = 0; j < parents.size(); ++j) {
    words.push_back((parents[j] < 0 ? 0 : words[parents[j]]) | (uint64_t{1} << j));
  }
  return words;
}

// On every CPU path (the zmm forms widen bf16/fp16 exactly as the ymm ones).
TEST(KernelsDtypePagedAttention, EqualsF32OnWidenedCache) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 1;
    for (DType t : kNarrowTypes) {
      for (int head_dim : {16, 72, 20}) {
        for (int block_size : {16, 5}) {
          // Sequence lengths: 1, 17, 40, 23, 30 (the last one verifies a tree).
          const PagedDtypeCase c({1, 17, 40, 23, 30}, 8, 2, head_dim, block_size, t, seed += 100);
          // One-token prefill, full prefill, decode, a chunk of 6 new tokens.
          const std::vector<PagedDtypeCase::Entry> causal = {
              {0, 1, 1, {}}, {1, 17, 17, {}}, {2, 40, 1, {}}, {3, 23, 6, {}}};
          const auto got = c.Run(causal, true, false);
          const auto want = c.Run(causal, false, false);
          ASSERT_TRUE(SameBits(got, want))
              << DTypeName(t) << " d=" << head_dim << " bs=" << block_size << " causal";
          // The same batch plus a tree of 9 new tokens after 21 of context.
          auto tree = causal;
          tree.push_back({4, 30, 9, TreeWords({-1, 0, 0, 1, 1, 2, 5, 3, 7})});
          const auto got_tree = c.Run(tree, true, true);
          const auto want_tree = c.Run(tree, false, true);
          ASSERT_TRUE(SameBits(got_tree, want_tree))
              << DTypeName(t) << " d=" << head_dim << " bs=" << block_size << " tree";
          // The causal rows are unchanged by the mask (causal words).
          const std::vector<float> head(got_tree.begin(), got_tree.begin() + got.size());
          EXPECT_TRUE(SameBits(head, got)) << DTypeName(t) << " d=" << head_dim;
        }
      }
    }
  });
}

TEST(KernelsDtypePagedAttention, ThreadCountInvariantBitForBit) {
  for (DType t : kNarrowTypes) {
    const PagedDtypeCase c({64, 33, 17}, 8, 2, 72, 5, t, 4321);
    const std::vector<PagedDtypeCase::Entry> entries = {
        {0, 64, 64, {}}, {1, 33, 1, {}}, {2, 17, 17, {}}};
    const std::vector<PagedDtypeCase::Entry> decode = {{0, 64, 1, {}}};
    SetNumThreads(1);
    const auto one = c.Run(entries, true, false);
    const auto one_decode = c.Run(decode, true, false);
    SetNumThreads(3);
    const auto three = c.Run(entries, true, false);
    const auto three_decode = c.Run(decode, true, false);
    SetNumThreads(0);
    EXPECT_TRUE(SameBits(one, three)) << DTypeName(t);
    EXPECT_TRUE(SameBits(one_decode, three_decode)) << DTypeName(t);
    const std::vector<float> last(one.begin() + 63 * 8 * 72, one.begin() + 64 * 8 * 72);
    EXPECT_TRUE(SameBits(one_decode, last)) << DTypeName(t);
  }
}

// ---- MoeExperts ----

// On every path; bf16 with vdpbf16ps (its own arithmetic) is compared with
// the fp32 instance within bf16's activation rounding instead of bit for bit.
TEST(KernelsDtypeMoeExperts, EqualsF32OnWidenedWeights) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 900;
    for (DType t : kNarrowTypes) {
      const bool dot = t == DType::kBF16 && MatmulBf16UsesDotProduct();
      for (auto [n, k, hidden, inter, ne] : std::vector<std::array<int64_t, 5>>{
               {13, 2, 33, 19, 5}, {1, 1, 72, 40, 3}, {37, 4, 129, 23, 8}}) {
        const auto x = RandomVector(n * hidden, seed++);
        const auto gate_up = Narrow(RandomVector(ne * 2 * inter * hidden, seed++, -0.5f, 0.5f), t);
        const auto down = Narrow(RandomVector(ne * hidden * inter, seed++, -0.5f, 0.5f), t);
        const auto gate_up_wide = Widen(gate_up, t);
        const auto down_wide = Widen(down, t);
        const auto logits = RandomVector(n * ne, seed++, -3.0f, 3.0f);
        std::vector<int32_t> ids(static_cast<size_t>(n * k));
        std::vector<float> weights(static_cast<size_t>(n * k));
        MoeRoute(logits.data(), n, ne, k, true, ids.data(), weights.data());
        // MoeExperts on tokens [t0, t0 + count).
        auto run = [&](const void* gu, const void* dn, DType wt, int64_t t0, int64_t count) {
          return testing::RunMoeExperts({.x = x.data(),
                                         .ids = ids.data(),
                                         .weights = weights.data(),
                                         .gate_up = gu,
                                         .down = dn,
                                         .weight_dtype = wt,
                                         .k = k,
                                         .hidden = hidden,
                                         .inter = inter,
                                         .num_experts = ne},
                                        t0, count);
        };
        const auto got = run(gate_up.data(), down.data(), t, 0, n);
        const auto want = run(gate_up_wide.data(), down_wide.data(), DType::kF32, 0, n);
        if (dot) {
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_TRUE(testing::Near(got[i], want[i], 2e-2, 2e-2)) << "element " << i;
          }
        } else {
          ASSERT_TRUE(SameBits(got, want)) << DTypeName(t) << " n=" << n << " k=" << k
                                           << " hidden=" << hidden << " inter=" << inter;
        }
        // Each token alone (every expert then has at most one row, so no
        // widened panel) gives the same bits as in the batch.
        for (int64_t i = 0; i < n; ++i) {
          const auto single = run(gate_up.data(), down.data(), t, i, 1);
          ASSERT_TRUE(BitEqual(single.data(), got.data() + i * hidden, hidden))
              << DTypeName(t) << " token " << i << " n=" << n << " hidden=" << hidden;
        }
      }
    }
  });
}

}  // namespace
}  // namespace inferd::kernels
