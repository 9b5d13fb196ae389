// tests/unit/kernels/matmul_kquant_test.cc — Matmul with a k-quant w (Q4_K,
// Q6_K: kernels/cpu/matmul_kquant.cc) against a plain scalar reference with
// the same rounding and order, bit for bit, on odd m and n (every narrow
// last tile), on random super-blocks and on the extremes of every field;
// close to fp32 Matmul on the dequantized weights; and the invariances
// (rows, columns, threads) that batch invariance rests on.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/cpu_isa.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::RandomVector;

constexpr DType kKQuantTypes[] = {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

// n rows of k elements of random super-blocks: random codes, scales and
// mins; d and dmin in [2^-9, 2^-5) (what real files hold).
std::vector<uint8_t> RandomBlocks(DType t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(1.0f / 512, 1.0f / 32);
  std::vector<uint8_t> w(static_cast<size_t>(DTypeBytes(t, n * k)));
  for (uint8_t& b : w) b = static_cast<uint8_t>(byte(rng));
  const int64_t blocks = n * k / kKQuantBlockElems;
  for (int64_t b = 0; b < blocks; ++b) {
    if (t == DType::kQ4_K) {
      auto* blk = reinterpret_cast<BlockQ4_K*>(w.data()) + b;
      blk->d = F32ToF16(scale(rng));
      blk->dmin = F32ToF16(scale(rng));
    } else if (t == DType::kQ5_K) {
      auto* blk = reinterpret_cast<BlockQ5_K*>(w.data()) + b;
      blk->d = F32ToF16(scale(rng));
      blk->dmin = F32ToF16(scale(rng));
    } else {
      reinterpret_cast<BlockQ6_K*>(w.data())[b].d = F32ToF16(scale(rng));
    }
  }
  return w;
}

// The reference, in plain scalar code (kernels/cpu/matmul_kquant.cc's
// header): x quantized per 256, then per super-block exact integer sums and
// one or two FMAs, in increasing super-block order, then + bias.
std::vector<float> Reference(const std::vector<float>& x, const std::vector<uint8_t>& w,
                             const float* bias, int64_t m, int64_t n, int64_t k, DType t) {
  const int64_t nsb = k / 256;
  std::vector<int> xq(static_cast<size_t>(m * k));
  std::vector<float> xd(static_cast<size_t>(m * nsb));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t s = 0; s < nsb; ++s) {
      const float* xs = x.data() + i * k + s * 256;
      float amax = 0.0f;
      for (int e = 0; e < 256; ++e) amax = std::max(amax, std::fabs(xs[e]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      xd[i * nsb + s] = d;
      for (int e = 0; e < 256; ++e) {
        xq[i * k + s * 256 + e] = static_cast<int>(std::nearbyint(xs[e] * id));
      }
    }
  }
  std::vector<float> out(static_cast<size_t>(m * n));
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0.0f;
      for (int64_t s = 0; s < nsb; ++s) {
        const int* xv = xq.data() + i * k + s * 256;
        const float dx = xd[i * nsb + s];
        if (t == DType::kQ4_K || t == DType::kQ5_K) {
          const auto& q4 = reinterpret_cast<const BlockQ4_K*>(w.data())[j * nsb + s];
          const auto& q5 = reinterpret_cast<const BlockQ5_K*>(w.data())[j * nsb + s];
          const bool five = t == DType::kQ5_K;
          int64_t sq = 0, sm = 0;
          for (int sub = 0; sub < 8; ++sub) {
            int scale, min;
            ScaleMinQ4_K(five ? q5.scales : q4.scales, sub, &scale, &min);
            int64_t dot = 0, sum = 0;
            for (int e = 32 * sub; e < 32 * sub + 32; ++e) {
              dot += (five ? CodeQ5_K(q5, e) : CodeQ4_K(q4, e)) * xv[e];
              sum += xv[e];
            }
            sq += scale * dot;
            sm += min * sum;
          }
          const float d = F16ToF32(five ? q5.d : q4.d), dmin = F16ToF32(five ? q5.dmin : q4.dmin);
          acc = std::fma(static_cast<float>(sq), d * dx, acc);
          acc = std::fma(-static_cast<float>(sm), dmin * dx, acc);
        } else {
          const auto& blk = reinterpret_cast<const BlockQ6_K*>(w.data())[j * nsb + s];
          int64_t sum = 0;
          for (int g = 0; g < 16; ++g) {
            int64_t dot = 0;
            for (int e = 16 * g; e < 16 * g + 16; ++e) dot += (CodeQ6_K(blk, e) - 32) * xv[e];
            sum += blk.scales[g] * dot;
          }
          acc = std::fma(static_cast<float>(sum), F16ToF32(blk.d) * dx, acc);
        }
      }
      out[i * n + j] = bias != nullptr ? acc + bias[j] : acc;
    }
  }
  return out;
}

// On every CPU path (the zmm forms on avx512, the ymm ones otherwise; with
// AVX512-VNNI, m >= 6 runs on packed 16-column strips: n = 41 and 48 give
// whole strips, pairs and a lone one, and columns after them; m = 9 a 6-row
// tile and 3 rows left; m = 5 the 4-row zmm tiles).
TEST(KernelsMatmulKQuant, MatchesReferenceBitForBitOnOddShapes) {
  testing::ForEachCpuIsa([](CpuIsa isa) {
    for (DType t : kKQuantTypes) {
      for (int64_t k : {256, 768}) {
        for (int64_t n : {1, 3, 7, 8, 13, 41, 48}) {
          for (int64_t m : {1, 2, 5, 9}) {
            const auto x = RandomVector(m * k, 1 + static_cast<uint32_t>(m + k));
            const auto w = RandomBlocks(t, n, k, 2 + static_cast<uint32_t>(n + k));
            const auto bias = RandomVector(n, 3);
            for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
              std::vector<float> got(static_cast<size_t>(m * n), NAN);
              Matmul(x.data(), w.data(), b, m, n, k, got.data(), t);
              const auto want = Reference(x, w, b, m, n, k, t);
              ASSERT_TRUE(BitEqual(got.data(), want.data(), m * n))
                  << CpuIsaName(isa) << " " << DTypeName(t) << " m=" << m << " n=" << n
                  << " k=" << k << " bias=" << (b != nullptr);
            }
          }
        }
      }
    }
  });
}

// Every field at the end of its range against activations at +-127 after
// quantization: codes 15 / 31 / 63 and 0, 6-bit scales and mins 63, Q6_K scales
// -128 and 127. The 16-bit pair sums must not saturate, nor the int32 sums
// wrap. m = 3 runs the tiles, m = 7 the packed strips where the CPU has
// AVX512-VNNI (n = 19: one strip and 3 columns after it).
TEST(KernelsMatmulKQuant, ExtremeValuesDoNotSaturate) {
  testing::ForEachCpuIsa([](CpuIsa isa) {
    for (const int64_t m : {3, 7}) {
      const int64_t n = 19, k = 512;
      std::vector<float> x(static_cast<size_t>(m * k));
      for (int64_t e = 0; e < m * k; ++e) x[e] = (e % 3 == 0) ? -1.0f : 1.0f;
      for (DType t : kKQuantTypes) {
        for (int fill : {0x00, 0xFF}) {
          auto w = RandomBlocks(t, n, k, 7);
          for (int64_t b = 0; b < n * k / 256; ++b) {
            if (t == DType::kQ4_K) {
              auto* blk = reinterpret_cast<BlockQ4_K*>(w.data()) + b;
              std::fill(std::begin(blk->scales), std::end(blk->scales), 0xFF);  // all 63
              std::fill(std::begin(blk->qs), std::end(blk->qs), static_cast<uint8_t>(fill));
            } else if (t == DType::kQ5_K) {  // codes 31 or 0
              auto* blk = reinterpret_cast<BlockQ5_K*>(w.data()) + b;
              std::fill(std::begin(blk->scales), std::end(blk->scales), 0xFF);
              std::fill(std::begin(blk->qs), std::end(blk->qs), static_cast<uint8_t>(fill));
              std::fill(std::begin(blk->qh), std::end(blk->qh), static_cast<uint8_t>(fill));
            } else {
              auto* blk = reinterpret_cast<BlockQ6_K*>(w.data()) + b;
              for (int g = 0; g < 16; ++g) blk->scales[g] = static_cast<int8_t>(g % 2 ? -128 : 127);
              std::fill(std::begin(blk->ql), std::end(blk->ql), static_cast<uint8_t>(fill));
              std::fill(std::begin(blk->qh), std::end(blk->qh), static_cast<uint8_t>(fill));
            }
          }
          std::vector<float> got(static_cast<size_t>(m * n));
          Matmul(x.data(), w.data(), nullptr, m, n, k, got.data(), t);
          const auto want = Reference(x, w, nullptr, m, n, k, t);
          EXPECT_TRUE(BitEqual(got.data(), want.data(), m * n))
              << CpuIsaName(isa) << " " << DTypeName(t) << " fill " << fill << " m=" << m;
        }
      }
    }
  });
}

// The integer path stays close to fp32 Matmul on the dequantized w: the
// activations' int8 rounding (one scale per 256) is the only difference.
TEST(KernelsMatmulKQuant, CloseToF32MatmulOnDequantizedWeights) {
  const int64_t m = 9, n = 45, k = 512;
  const auto x = RandomVector(m * k, 41);
  for (DType t : kKQuantTypes) {
    const auto w = RandomBlocks(t, n, k, 42);
    std::vector<float> deq(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) {
      DequantizeRow(t, w.data() + DTypeBytes(t, j * k), k, deq.data() + j * k);
    }
    std::vector<float> q(static_cast<size_t>(m * n)), f(q.size());
    Matmul(x.data(), w.data(), nullptr, m, n, k, q.data(), t);
    Matmul(x.data(), deq.data(), nullptr, m, n, k, f.data());
    double err = 0, norm = 0;
    for (size_t e = 0; e < q.size(); ++e) {
      err += (q[e] - f[e]) * (q[e] - f[e]);
      norm += f[e] * f[e];
    }
    EXPECT_LT(std::sqrt(err / norm), 2e-2) << DTypeName(t);
  }
}

// Row i alone equals row i of a batch, any sub-batch its rows, and a column
// range alone its columns.
TEST(KernelsMatmulKQuant, BatchInvariantBitForBit) {
  const int64_t m = 19, n = 101, k = 512;
  const auto x = RandomVector(m * k, 51);
  const auto bias = RandomVector(n, 53);
  testing::ForEachCpuIsa([&](CpuIsa) {
    for (DType t : kKQuantTypes) {
      const auto w = RandomBlocks(t, n, k, 52);
      std::vector<float> batched(static_cast<size_t>(m * n));
      Matmul(x.data(), w.data(), bias.data(), m, n, k, batched.data(), t);
      for (int64_t i = 0; i < m; ++i) {
        std::vector<float> single(static_cast<size_t>(n));
        Matmul(x.data() + i * k, w.data(), bias.data(), 1, n, k, single.data(), t);
        ASSERT_TRUE(BitEqual(single.data(), batched.data() + i * n, n))
            << DTypeName(t) << " row " << i;
      }
      for (auto [i0, i1] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {5, 17}}) {
        std::vector<float> part(static_cast<size_t>((i1 - i0) * n));
        Matmul(x.data() + i0 * k, w.data(), bias.data(), i1 - i0, n, k, part.data(), t);
        ASSERT_TRUE(BitEqual(part.data(), batched.data() + i0 * n, (i1 - i0) * n)) << DTypeName(t);
      }
      for (int64_t j0 : {1, 50, 94}) {
        const int64_t nn = 7;
        std::vector<float> part(static_cast<size_t>(m * nn));
        Matmul(x.data(), w.data() + DTypeBytes(t, j0 * k), bias.data() + j0, m, nn, k, part.data(),
               t);
        for (int64_t i = 0; i < m; ++i) {
          ASSERT_TRUE(BitEqual(part.data() + i * nn, batched.data() + i * n + j0, nn)) << j0;
        }
      }
    }
  });
}

// Every path gives the same bits (the forms differ only in how many
// elements a register holds; the integer sums are the same).
TEST(KernelsMatmulKQuant, EveryPathGivesTheSameBits) {
  const int64_t m = 7, n = 37, k = 768;
  const auto x = RandomVector(m * k, 71);
  for (DType t : kKQuantTypes) {
    const auto w = RandomBlocks(t, n, k, 72);
    std::vector<float> first;
    testing::ForEachCpuIsa([&](CpuIsa isa) {
      std::vector<float> got(static_cast<size_t>(m * n));
      Matmul(x.data(), w.data(), nullptr, m, n, k, got.data(), t);
      if (first.empty()) {
        first = got;
      } else {
        EXPECT_TRUE(BitEqual(got.data(), first.data(), m * n))
            << CpuIsaName(isa) << " " << DTypeName(t);
      }
    });
  }
}

TEST(KernelsMatmulKQuant, ThreadCountInvariantBitForBit) {
  const int64_t k = 512, n = 333;
  for (DType t : kKQuantTypes) {
    for (int64_t m : {1, 16}) {
      const auto x = RandomVector(m * k, 61);
      const auto w = RandomBlocks(t, n, k, 62);
      std::vector<float> one(static_cast<size_t>(m * n)), two(one.size()), four(one.size());
      SetNumThreads(1);
      Matmul(x.data(), w.data(), nullptr, m, n, k, one.data(), t);
      SetNumThreads(2);
      Matmul(x.data(), w.data(), nullptr, m, n, k, two.data(), t);
      SetNumThreads(4);
      Matmul(x.data(), w.data(), nullptr, m, n, k, four.data(), t);
      SetNumThreads(0);
      EXPECT_TRUE(BitEqual(one.data(), two.data(), m * n)) << DTypeName(t) << " m=" << m;
      EXPECT_TRUE(BitEqual(one.data(), four.data(), m * n)) << DTypeName(t) << " m=" << m;
    }
  }
}

TEST(KernelsMatmulKQuantDeathTest, KNotAMultipleOf256Dies) {
  std::vector<float> x(288, 1.0f), out(1);
  std::vector<uint8_t> w(512);
  EXPECT_DEATH(Matmul(x.data(), w.data(), nullptr, 1, 1, 288, out.data(), DType::kQ4_K),
               "multiple of 256");
}

}  // namespace
}  // namespace inferd::kernels
