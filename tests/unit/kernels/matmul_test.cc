// tests/unit/kernels/matmul_test.cc — Matmul against a double reference, plus
// bit-for-bit batch, shape and thread-count invariance.
#include <cmath>
#include <cstdint>
#include <tuple>
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

// Checks out against x·wᵀ + bias in double; tolerance relative to Σ|x·w|.
void ExpectMatmulNear(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                      int64_t m, int64_t n, int64_t k, const std::vector<float>& out) {
  int failures = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = bias != nullptr ? bias[j] : 0.0;
      double mag = bias != nullptr ? std::fabs(bias[j]) : 0.0;
      for (int64_t t = 0; t < k; ++t) {
        const double p = static_cast<double>(x[i * k + t]) * w[j * k + t];
        ref += p;
        mag += std::fabs(p);
      }
      const auto r = Near(out[i * n + j], ref, 1e-6, 1e-5, mag);
      if (!r && ++failures <= 5) ADD_FAILURE() << "out[" << i << "," << j << "]: " << r.message();
    }
  }
  EXPECT_EQ(failures, 0) << "m=" << m << " n=" << n << " k=" << k;
}

TEST(KernelsMatmul, MatchesReferenceOnOddShapes) {
  uint32_t seed = 1;
  for (int64_t m : {1, 3, 17, 37}) {
    for (int64_t k : {7, 64, 129, 173}) {
      for (int64_t n : {1, 5, 33, 511}) {
        for (bool with_bias : {false, true}) {
          const auto x = RandomVector(m * k, seed++);
          const auto w = RandomVector(n * k, seed++);
          const auto bias = RandomVector(n, seed++);
          std::vector<float> out(static_cast<size_t>(m * n), NAN);
          Matmul(x.data(), w.data(), with_bias ? bias.data() : nullptr, m, n, k, out.data());
          ExpectMatmulNear(x, w, with_bias ? bias.data() : nullptr, m, n, k, out);
        }
      }
    }
  }
}

TEST(KernelsMatmul, TinyLlamaShapes) {
  uint32_t seed = 100;
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{
           {128, 128}, {32, 128}, {704, 128}, {128, 352}, {32000, 128}}) {
    for (int64_t m : {1, 16}) {
      const auto x = RandomVector(m * k, seed++);
      const auto w = RandomVector(n * k, seed++);
      std::vector<float> out(static_cast<size_t>(m * n));
      Matmul(x.data(), w.data(), nullptr, m, n, k, out.data());
      ExpectMatmulNear(x, w, nullptr, m, n, k, out);
    }
  }
}

TEST(KernelsMatmul, KZeroGivesBias) {
  const auto bias = RandomVector(5, 7);
  std::vector<float> out(3 * 5, NAN);
  Matmul(nullptr, nullptr, bias.data(), 3, 5, 0, out.data());
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 5; ++j) EXPECT_EQ(out[i * 5 + j], bias[j]);
  }
}

// Row i computed alone (m=1) equals row i of the m=37 batch, bit for bit.
TEST(KernelsMatmul, BatchInvariantBitForBit) {
  for (int64_t k : {7, 64, 129, 173}) {
    for (int64_t n : {1, 5, 33, 511}) {
      const int64_t m = 37;
      const auto x = RandomVector(m * k, 11 + static_cast<uint32_t>(k));
      const auto w = RandomVector(n * k, 12 + static_cast<uint32_t>(n));
      const auto bias = RandomVector(n, 13);
      std::vector<float> batched(static_cast<size_t>(m * n));
      Matmul(x.data(), w.data(), bias.data(), m, n, k, batched.data());
      for (int64_t i = 0; i < m; ++i) {
        std::vector<float> single(static_cast<size_t>(n));
        Matmul(x.data() + i * k, w.data(), bias.data(), 1, n, k, single.data());
        ASSERT_TRUE(BitEqual(single.data(), batched.data() + i * n, n))
            << "row " << i << " k=" << k << " n=" << n;
      }
      // Every sub-batch [i0, i1) too (different tile/edge paths per row).
      for (auto [i0, i1] : std::vector<std::pair<int64_t, int64_t>>{{1, 4}, {5, 22}, {30, 37}}) {
        std::vector<float> part(static_cast<size_t>((i1 - i0) * n));
        Matmul(x.data() + i0 * k, w.data(), bias.data(), i1 - i0, n, k, part.data());
        ASSERT_TRUE(BitEqual(part.data(), batched.data() + i0 * n, (i1 - i0) * n));
      }
    }
  }
}

// Column j does not depend on n either (columns sit in different tiles).
TEST(KernelsMatmul, ColumnSubsetInvariantBitForBit) {
  const int64_t m = 17, k = 129, n = 511;
  const auto x = RandomVector(m * k, 21);
  const auto w = RandomVector(n * k, 22);
  std::vector<float> full(static_cast<size_t>(m * n));
  Matmul(x.data(), w.data(), nullptr, m, n, k, full.data());
  for (int64_t j0 : {1, 2, 100, 509}) {
    const int64_t nn = std::min<int64_t>(7, n - j0);
    std::vector<float> part(static_cast<size_t>(m * nn));
    Matmul(x.data(), w.data() + j0 * k, nullptr, m, nn, k, part.data());
    for (int64_t i = 0; i < m; ++i) {
      ASSERT_TRUE(BitEqual(part.data() + i * nn, full.data() + i * n + j0, nn)) << j0;
    }
  }
}

TEST(KernelsMatmul, ThreadCountInvariantBitForBit) {
  const int64_t m = 37, k = 173, n = 2000;
  const auto x = RandomVector(m * k, 31);
  const auto w = RandomVector(n * k, 32);
  const auto bias = RandomVector(n, 33);
  std::vector<float> one(static_cast<size_t>(m * n)), two(one.size()), four(one.size());
  SetNumThreads(1);
  Matmul(x.data(), w.data(), bias.data(), m, n, k, one.data());
  SetNumThreads(2);
  Matmul(x.data(), w.data(), bias.data(), m, n, k, two.data());
  SetNumThreads(4);
  Matmul(x.data(), w.data(), bias.data(), m, n, k, four.data());
  SetNumThreads(0);
  EXPECT_TRUE(BitEqual(one.data(), two.data(), m * n));
  EXPECT_TRUE(BitEqual(one.data(), four.data(), m * n));
}

}  // namespace
}  // namespace inferd::kernels
