// tests/unit/kernels/matmul_quant_test.cc — Matmul with a block-quantized w
// (kernels/cpu/matmul_quant.cc) against a plain scalar reference with the same
// rounding and order, bit for bit, on odd m and n, in every integer dot
// product form the CPU has; and the invariances (rows, columns, threads)
// that batch invariance rests on.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::RandomVector;

constexpr DType kQuantTypes[] = {DType::kQ8_0, DType::kQ4_0};

// w [n, k] fp32 quantized row by row.
std::vector<uint8_t> Quantize(const std::vector<float>& w, int64_t n, int64_t k, DType t) {
  std::vector<uint8_t> q(static_cast<size_t>(DTypeBytes(t, n * k)));
  for (int64_t j = 0; j < n; ++j) {
    QuantizeRow(t, w.data() + j * k, k, q.data() + DTypeBytes(t, j * k));
  }
  return q;
}

// The integer weights of w row j, element order: Q8_0 as stored, Q4_0 code - 8.
std::vector<int> IntWeights(const std::vector<uint8_t>& wq, int64_t j, int64_t k, DType t,
                            std::vector<float>* scales) {
  std::vector<int> q(static_cast<size_t>(k));
  scales->assign(static_cast<size_t>(k / 32), 0.0f);
  const uint8_t* row = wq.data() + DTypeBytes(t, j * k);
  for (int64_t b = 0; b < k / 32; ++b) {
    if (t == DType::kQ8_0) {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
      (*scales)[b] = F16ToF32(blk->d);
      for (int e = 0; e < 32; ++e) q[b * 32 + e] = blk->qs[e];
    } else {
      const auto* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
      (*scales)[b] = F16ToF32(blk->d);
      for (int e = 0; e < 16; ++e) {
        q[b * 32 + e] = (blk->qs[e] & 0x0F) - 8;
        q[b * 32 + 16 + e] = (blk->qs[e] >> 4) - 8;
      }
    }
  }
  return q;
}

// The reference, in plain scalar code: each x row quantized per block of 32
// (amax / 127 as an fp32 scale, round half to even), then per output element
// one fp32 sum, adding fma(float(sum of w * x over block b), dw * dx, sum)
// for b in increasing order, then + bias.
std::vector<float> Reference(const std::vector<float>& x, const std::vector<uint8_t>& wq,
                             const float* bias, int64_t m, int64_t n, int64_t k, DType t) {
  const int64_t nb = k / 32;
  std::vector<int> xq(static_cast<size_t>(m * k));
  std::vector<float> xd(static_cast<size_t>(m * nb));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x.data() + i * k + b * 32;
      float amax = 0.0f;
      for (int e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(xb[e]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      xd[i * nb + b] = d;
      for (int e = 0; e < 32; ++e) {
        xq[i * k + b * 32 + e] = static_cast<int>(std::nearbyint(xb[e] * id));
      }
    }
  }
  std::vector<float> out(static_cast<size_t>(m * n));
  std::vector<float> dw;
  for (int64_t j = 0; j < n; ++j) {
    const std::vector<int> w = IntWeights(wq, j, k, t, &dw);
    for (int64_t i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t p = 0;
        for (int e = 0; e < 32; ++e) p += w[b * 32 + e] * xq[i * k + b * 32 + e];
        sum = std::fma(static_cast<float>(p), dw[b] * xd[i * nb + b], sum);
      }
      out[i * n + j] = bias != nullptr ? sum + bias[j] : sum;
    }
  }
  return out;
}

// Runs f once per CPU kernel path this CPU has (kernels/cpu_isa.h), with the
// name of the integer dot product form that path uses.
template <typename F>
void ForEachDotForm(F&& f) {
  testing::ForEachCpuIsa([&](CpuIsa) { f(std::string(MatmulQuantizedDotIsa())); });
}

TEST(KernelsMatmulQuant, MatchesReferenceBitForBitOnOddShapes) {
  ForEachDotForm([](const std::string& form) {
    for (DType t : kQuantTypes) {
      for (int64_t k : {32, 96, 160, 544}) {
        for (int64_t n : {1, 3, 7, 33, 301}) {
          for (int64_t m : {1, 2, 3, 5, 6, 17}) {
            const auto x = RandomVector(m * k, 1 + static_cast<uint32_t>(m + k));
            const auto w = RandomVector(n * k, 2 + static_cast<uint32_t>(n + k));
            const auto bias = RandomVector(n, 3);
            const auto wq = Quantize(w, n, k, t);
            for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
              std::vector<float> got(static_cast<size_t>(m * n), NAN);
              Matmul(x.data(), wq.data(), b, m, n, k, got.data(), t);
              const auto want = Reference(x, wq, b, m, n, k, t);
              ASSERT_TRUE(BitEqual(got.data(), want.data(), m * n))
                  << form << " " << DTypeName(t) << " m=" << m << " n=" << n << " k=" << k
                  << " bias=" << (b != nullptr);
            }
          }
        }
      }
    }
  });
}

// Weights at the ends of their ranges (Q8_0's -127..127 and a -128 a GGUF
// file may hold, Q4_0's -8..7) against activations at +-127 after
// quantization: the 16-bit pair sums of the AVX2 form must not saturate,
// nor the offset weights of the packed AVX-512 strips (m >= 4, n >= 16).
TEST(KernelsMatmulQuant, ExtremeValuesDoNotSaturate) {
  const int64_t m = 7, n = 41, k = 128;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (int64_t e = 0; e < m * k; ++e) x[e] = (e % 3 == 0) ? -1.0f : 1.0f;
  for (DType t : kQuantTypes) {
    auto wq = Quantize(RandomVector(n * k, 7), n, k, t);
    // Every weight at its most negative code, scale 1.
    for (int64_t j = 0; j < n * k / 32; ++j) {
      if (t == DType::kQ8_0) {
        auto* blk = reinterpret_cast<BlockQ8_0*>(wq.data()) + j;
        blk->d = F32ToF16(1.0f);
        for (int e = 0; e < 32; ++e) blk->qs[e] = static_cast<int8_t>(e % 2 == 0 ? -128 : -127);
      } else {
        auto* blk = reinterpret_cast<BlockQ4_0*>(wq.data()) + j;
        blk->d = F32ToF16(1.0f);
        for (int e = 0; e < 16; ++e) blk->qs[e] = 0x00;
      }
    }
    ForEachDotForm([&](const std::string& form) {
      std::vector<float> got(static_cast<size_t>(m * n));
      Matmul(x.data(), wq.data(), nullptr, m, n, k, got.data(), t);
      const auto want = Reference(x, wq, nullptr, m, n, k, t);
      EXPECT_TRUE(BitEqual(got.data(), want.data(), m * n)) << form << " " << DTypeName(t);
    });
  }
}

// The integer path stays close to fp32 Matmul on the dequantized w: the
// activations' int8 rounding is the only difference (relative error of a
// dot product of random rows about 1e-2 at most).
TEST(KernelsMatmulQuant, CloseToF32MatmulOnDequantizedWeights) {
  const int64_t m = 9, n = 45, k = 256;
  const auto x = RandomVector(m * k, 41);
  const auto w = RandomVector(n * k, 42);
  for (DType t : kQuantTypes) {
    const auto wq = Quantize(w, n, k, t);
    std::vector<float> deq(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) {
      DequantizeRow(t, wq.data() + DTypeBytes(t, j * k), k, deq.data() + j * k);
    }
    std::vector<float> q(static_cast<size_t>(m * n)), f(q.size());
    Matmul(x.data(), wq.data(), nullptr, m, n, k, q.data(), t);
    Matmul(x.data(), deq.data(), nullptr, m, n, k, f.data());
    double err = 0, norm = 0;
    for (size_t e = 0; e < q.size(); ++e) {
      err += (q[e] - f[e]) * (q[e] - f[e]);
      norm += f[e] * f[e];
    }
    EXPECT_LT(std::sqrt(err / norm), 1e-2) << DTypeName(t);
  }
}

// Row i alone equals row i of a batch, and any sub-batch its rows (the
// direct m = 1 path and the widened panels agree bit for bit).
TEST(KernelsMatmulQuant, BatchInvariantBitForBit) {
  const int64_t m = 37, n = 263, k = 352;
  const auto x = RandomVector(m * k, 51);
  const auto w = RandomVector(n * k, 52);
  const auto bias = RandomVector(n, 53);
  for (DType t : kQuantTypes) {
    const auto wq = Quantize(w, n, k, t);
    std::vector<float> batched(static_cast<size_t>(m * n));
    Matmul(x.data(), wq.data(), bias.data(), m, n, k, batched.data(), t);
    for (int64_t i = 0; i < m; ++i) {
      std::vector<float> single(static_cast<size_t>(n));
      Matmul(x.data() + i * k, wq.data(), bias.data(), 1, n, k, single.data(), t);
      ASSERT_TRUE(BitEqual(single.data(), batched.data() + i * n, n))
          << DTypeName(t) << " row " << i;
    }
    for (auto [i0, i1] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {5, 22}, {30, 37}}) {
      std::vector<float> part(static_cast<size_t>((i1 - i0) * n));
      Matmul(x.data() + i0 * k, wq.data(), bias.data(), i1 - i0, n, k, part.data(), t);
      ASSERT_TRUE(BitEqual(part.data(), batched.data() + i0 * n, (i1 - i0) * n)) << DTypeName(t);
    }
    // Columns [j0, j0 + 7) alone (other tiles, other thread splits).
    for (int64_t j0 : {1, 100, 256}) {
      const int64_t nn = 7;
      std::vector<float> part(static_cast<size_t>(m * nn));
      Matmul(x.data(), wq.data() + DTypeBytes(t, j0 * k), bias.data() + j0, m, nn, k, part.data(),
             t);
      for (int64_t i = 0; i < m; ++i) {
        ASSERT_TRUE(BitEqual(part.data() + i * nn, batched.data() + i * n + j0, nn)) << j0;
      }
    }
  }
}

TEST(KernelsMatmulQuant, ThreadCountInvariantBitForBit) {
  const int64_t k = 512, n = 1001;
  for (DType t : kQuantTypes) {
    for (int64_t m : {1, 16}) {
      const auto x = RandomVector(m * k, 61);
      const auto wq = Quantize(RandomVector(n * k, 62), n, k, t);
      std::vector<float> one(static_cast<size_t>(m * n)), two(one.size()), four(one.size());
      SetNumThreads(1);
      Matmul(x.data(), wq.data(), nullptr, m, n, k, one.data(), t);
      SetNumThreads(2);
      Matmul(x.data(), wq.data(), nullptr, m, n, k, two.data(), t);
      SetNumThreads(4);
      Matmul(x.data(), wq.data(), nullptr, m, n, k, four.data(), t);
      SetNumThreads(0);
      EXPECT_TRUE(BitEqual(one.data(), two.data(), m * n)) << DTypeName(t) << " m=" << m;
      EXPECT_TRUE(BitEqual(one.data(), four.data(), m * n)) << DTypeName(t) << " m=" << m;
    }
  }
}

TEST(KernelsMatmulQuantDeathTest, KNotAMultipleOf32Dies) {
  std::vector<float> x(40, 1.0f), out(1);
  std::vector<uint8_t> w(64);
  EXPECT_DEATH(Matmul(x.data(), w.data(), nullptr, 1, 1, 40, out.data(), DType::kQ8_0),
               "multiple of 32");
}

}  // namespace
}  // namespace inferd::kernels
