// tests/unit/kernels/matmul_quant_test.cc — Matmul with a block-quantized w
// (kernels/cpu/matmul_quant.cc) against a plain scalar reference with the same
// rounding and order, bit for bit, on odd m and n; and the invariances
// (rows, columns, threads) that batch invariance rests on.
#include <cmath>
#include <cstdint>
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

// The reference: each w row dequantized (exact), then per output element 8
// lanes (lane l takes k = 8t + l, one fused multiply-add per t in increasing
// t), summed ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)), then + bias.
std::vector<float> Reference(const std::vector<float>& x, const std::vector<uint8_t>& wq,
                             const float* bias, int64_t m, int64_t n, int64_t k, DType t) {
  std::vector<float> out(static_cast<size_t>(m * n));
  std::vector<float> wrow(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    DequantizeRow(t, wq.data() + DTypeBytes(t, j * k), k, wrow.data());
    for (int64_t i = 0; i < m; ++i) {
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t s = 0; s < k; s += 8) {
        for (int l = 0; l < 8; ++l) lane[l] = std::fma(x[i * k + s + l], wrow[s + l], lane[l]);
      }
      const float sum =
          ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
      out[i * n + j] = bias != nullptr ? sum + bias[j] : sum;
    }
  }
  return out;
}

TEST(KernelsMatmulQuant, MatchesReferenceBitForBitOnOddShapes) {
  for (DType t : kQuantTypes) {
    for (int64_t k : {32, 96, 160, 544}) {
      for (int64_t n : {1, 3, 7, 33, 301}) {
        for (int64_t m : {1, 2, 3, 5, 17}) {
          const auto x = RandomVector(m * k, 1 + static_cast<uint32_t>(m + k));
          const auto w = RandomVector(n * k, 2 + static_cast<uint32_t>(n + k));
          const auto bias = RandomVector(n, 3);
          const auto wq = Quantize(w, n, k, t);
          for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
            std::vector<float> got(static_cast<size_t>(m * n), NAN);
            Matmul(x.data(), wq.data(), b, m, n, k, got.data(), t);
            const auto want = Reference(x, wq, b, m, n, k, t);
            ASSERT_TRUE(BitEqual(got.data(), want.data(), m * n))
                << DTypeName(t) << " m=" << m << " n=" << n << " k=" << k
                << " bias=" << (b != nullptr);
          }
        }
      }
    }
  }
}

// The quantized Matmul computes fp32 Matmul's bits on the dequantized w.
TEST(KernelsMatmulQuant, EqualsF32MatmulOnDequantizedWeights) {
  const int64_t m = 9, n = 45, k = 256;
  const auto x = RandomVector(m * k, 41);
  const auto w = RandomVector(n * k, 42);
  const auto bias = RandomVector(n, 43);
  for (DType t : kQuantTypes) {
    const auto wq = Quantize(w, n, k, t);
    std::vector<float> deq(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) {
      DequantizeRow(t, wq.data() + DTypeBytes(t, j * k), k, deq.data() + j * k);
    }
    for (int64_t rows : {int64_t{1}, m}) {
      std::vector<float> q(static_cast<size_t>(rows * n)), f(q.size());
      Matmul(x.data(), wq.data(), bias.data(), rows, n, k, q.data(), t);
      Matmul(x.data(), deq.data(), bias.data(), rows, n, k, f.data());
      EXPECT_TRUE(BitEqual(q.data(), f.data(), rows * n)) << DTypeName(t) << " m=" << rows;
    }
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
