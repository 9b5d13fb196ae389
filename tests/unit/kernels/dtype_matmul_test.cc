// tests/unit/kernels/dtype_matmul_test.cc — Matmul with bf16/fp16 weights on
// every CPU kernel path (kernels/cpu_isa.h): the fp32 instance's bits on the
// widened weights, or, for bf16 with vdpbf16ps, its own fixed order
// (Bf16DotReference); batch, thread-count and long-k invariance; the wider
// paths against AVX2. Sizes are odd so that vector tails and edge tiles are
// exercised.
#include <cmath>
#include <cstdint>
#include <utility>
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
using testing::kNarrowTypes;
using testing::Narrow;
using testing::RandomVector;
using testing::SameBits;
using testing::Widen;

// kernels/cpu/matmul_bf16_dot.h's arithmetic (bf16 w with vdpbf16ps), in
// scalar code: x rounded to bf16; 16 lanes, lane l taking k = 32t + 2l + 1,
// then 32t + 2l (zeros past k), each product (exact in fp32) added with one
// rounding; lane l + 8 folded onto lane l; simd::Reduce4's tree; + bias.
float Bf16DotReference(const float* x, const uint16_t* w, int64_t k, float bias) {
  float lane[16] = {};
  for (int64_t t = 0; t < k; t += 32) {
    for (int l = 0; l < 16; ++l) {
      for (int e : {1, 0}) {
        const int64_t i = t + 2 * l + e;
        const float xv = i < k ? BF16ToF32(F32ToBF16(x[i])) : 0.0f;
        const float wv = i < k ? BF16ToF32(w[i]) : 0.0f;
        lane[l] = lane[l] + xv * wv;
      }
    }
  }
  float f[8];
  for (int l = 0; l < 8; ++l) f[l] = lane[l] + lane[l + 8];
  return (((f[0] + f[1]) + (f[2] + f[3])) + ((f[4] + f[5]) + (f[6] + f[7]))) + bias;
}

// What Matmul must give for narrow (the weights in dtype t) on the active
// path: the bf16 dot product's arithmetic where the path uses vdpbf16ps for
// t, else simd::Dot's fixed order on the widened row, + bias.
std::vector<float> MatmulReference(const std::vector<float>& x, const std::vector<uint16_t>& narrow,
                                   const float* bias, int64_t m, int64_t n, int64_t k, DType t) {
  const bool dot = t == DType::kBF16 && MatmulBf16UsesDotProduct();
  const auto wide = Widen(narrow, t);
  std::vector<float> want(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const float b = bias != nullptr ? bias[j] : 0.0f;
      want[i * n + j] =
          dot ? Bf16DotReference(x.data() + i * k, narrow.data() + j * k, k, b)
              : (bias != nullptr ? simd::Dot(x.data() + i * k, wide.data() + j * k, k) + b
                                 : simd::Dot(x.data() + i * k, wide.data() + j * k, k));
    }
  }
  return want;
}

// A Matmul of random x [m, k], w [n, k] in dtype t and bias [n] (seed
// advanced by 3), run on the active path.
struct RandomMatmul {
  std::vector<float> x;
  std::vector<uint16_t> narrow;
  std::vector<float> bias;
  std::vector<float> got;  // [m, n]

  RandomMatmul(int64_t m, int64_t n, int64_t k, DType t, uint32_t& seed)
      : x(RandomVector(m * k, seed++)),
        narrow(Narrow(RandomVector(n * k, seed++), t)),
        bias(RandomVector(n, seed++)),
        got(static_cast<size_t>(m * n), NAN) {
    Matmul(x.data(), narrow.data(), bias.data(), m, n, k, got.data(), t);
  }

  // got against the path's fixed order.
  ::testing::AssertionResult MatchesReference(int64_t m, int64_t n, int64_t k, DType t) const {
    return SameBits(got, MatmulReference(x, narrow, bias.data(), m, n, k, t));
  }
};

// On every path: a 16-bit w gives the bits of the fp32 instance on the
// widened values, except bf16 on a path with vdpbf16ps, which gives its own
// reference's.
TEST(KernelsDtypeMatmul, EqualsF32OnWidenedWeights) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 1;
    for (DType t : kNarrowTypes) {
      const bool dot = t == DType::kBF16 && MatmulBf16UsesDotProduct();
      for (int64_t m : {1, 2, 3, 4, 17, 37}) {
        for (int64_t n : {1, 5, 33, 131}) {
          for (int64_t k : {7, 8, 64, 129, 173}) {
            for (bool with_bias : {false, true}) {
              const auto x = RandomVector(m * k, seed++);
              const auto w = RandomVector(n * k, seed++, -2.0f, 2.0f);
              const auto bias = RandomVector(n, seed++);
              const float* b = with_bias ? bias.data() : nullptr;
              const auto narrow = Narrow(w, t);
              std::vector<float> got(static_cast<size_t>(m * n), NAN), want(got.size(), NAN);
              Matmul(x.data(), narrow.data(), b, m, n, k, got.data(), t);
              if (dot) {
                want = MatmulReference(x, narrow, b, m, n, k, t);
              } else {
                const auto wide = Widen(narrow, t);
                Matmul(x.data(), wide.data(), b, m, n, k, want.data());
              }
              ASSERT_TRUE(SameBits(got, want)) << DTypeName(t) << " m=" << m << " n=" << n
                                               << " k=" << k << " bias=" << with_bias;
            }
          }
        }
      }
    }
  });
}

// n large enough that w spans several panels.
TEST(KernelsDtypeMatmul, EqualsReferenceManyPanels) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 500;
    for (DType t : kNarrowTypes) {
      for (int64_t m : {1, 3, 5, 37}) {
        const int64_t n = 1001, k = 257;
        const RandomMatmul c(m, n, k, t, seed);
        ASSERT_TRUE(c.MatchesReference(m, n, k, t)) << DTypeName(t) << " m=" << m;
      }
    }
  });
}

// Long k (the 1B model's down projection has k = 8192) through every tile
// form (the zmm tiles for fp16, and bf16 without vdpbf16ps; the vdpbf16ps
// tiles; the AVX2 tiles on a widened panel): each element is the path's
// fixed order, and each row alone (the one-row streams) gives the same bits.
TEST(KernelsDtypeMatmul, LongKEqualsReferenceAndRowsAlone) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 600;
    for (DType t : kNarrowTypes) {
      for (int64_t k : {2048, 2049, 4133, 8192}) {
        // n = 71: several panels of k-blocked zmm tiles (fp16: 60 columns).
        for (auto [m, n] : {std::pair<int64_t, int64_t>{7, 9}, {13, 9}, {21, 71}}) {
          const RandomMatmul c(m, n, k, t, seed);
          ASSERT_TRUE(c.MatchesReference(m, n, k, t)) << DTypeName(t) << " m=" << m << " k=" << k;
          for (int64_t i = 0; i < m; ++i) {
            std::vector<float> single(static_cast<size_t>(n));
            Matmul(c.x.data() + i * k, c.narrow.data(), c.bias.data(), 1, n, k, single.data(), t);
            ASSERT_TRUE(BitEqual(single.data(), c.got.data() + i * n, n))
                << DTypeName(t) << " row " << i << " k=" << k;
          }
        }
      }
    }
  });
}

// The same for fp32 weights (k = 8192 also takes the copy of x with rows 64
// bytes apart; past k = 2048 the zmm tiles block k, parking accumulators,
// over panels of 30 columns and blocks of 512 rows): simd::Dot's order,
// rows alone equal.
TEST(KernelsDtypeMatmul, LongKFp32EqualsDotAndRowsAlone) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 650;
    for (int64_t k : {2049, 4133, 8192}) {
      for (auto [m, n] : {std::pair<int64_t, int64_t>{7, 9}, {13, 9}, {21, 71}, {517, 7}}) {
        if (m == 517 && k != 4133) continue;  // one shape across two row blocks
        const auto x = RandomVector(m * k, seed++);
        const auto w = RandomVector(n * k, seed++);
        const auto bias = RandomVector(n, seed++);
        std::vector<float> got(static_cast<size_t>(m * n), NAN);
        Matmul(x.data(), w.data(), bias.data(), m, n, k, got.data());
        for (int64_t i = 0; i < m; ++i) {
          std::vector<float> want(static_cast<size_t>(n));
          for (int64_t j = 0; j < n; ++j) {
            want[j] = simd::Dot(x.data() + i * k, w.data() + j * k, k) + bias[j];
          }
          ASSERT_TRUE(BitEqual(want.data(), got.data() + i * n, n)) << "row " << i << " k=" << k;
          std::vector<float> single(static_cast<size_t>(n));
          Matmul(x.data() + i * k, w.data(), bias.data(), 1, n, k, single.data());
          ASSERT_TRUE(BitEqual(single.data(), got.data() + i * n, n)) << "row " << i << " k=" << k;
        }
      }
    }
  });
}

// Row i alone (m=1: the one-row streams) equals row i of an m=17 call
// (register tiles, panels), bit for bit, on every path.
TEST(KernelsDtypeMatmul, BatchInvariantBitForBit) {
  ForEachCpuIsa([](CpuIsa) {
    for (DType t : kNarrowTypes) {
      for (int64_t k : {7, 64, 129, 173, 2048}) {
        for (int64_t n : {5, 33, 131}) {
          const int64_t m = 17;
          const auto x = RandomVector(m * k, 11 + static_cast<uint32_t>(k));
          const auto narrow = Narrow(RandomVector(n * k, 12 + static_cast<uint32_t>(n)), t);
          const auto bias = RandomVector(n, 13);
          std::vector<float> batched(static_cast<size_t>(m * n));
          Matmul(x.data(), narrow.data(), bias.data(), m, n, k, batched.data(), t);
          for (int64_t i = 0; i < m; ++i) {
            std::vector<float> single(static_cast<size_t>(n));
            Matmul(x.data() + i * k, narrow.data(), bias.data(), 1, n, k, single.data(), t);
            ASSERT_TRUE(BitEqual(single.data(), batched.data() + i * n, n))
                << DTypeName(t) << " row " << i << " k=" << k << " n=" << n;
          }
        }
      }
    }
  });
}

// Every element, whichever code computes it (m = 1 streams, AVX2 tiles,
// widened panels, AVX-512 tiles, vdpbf16ps tiles, edge tiles), is the
// path's fixed order (MatmulReference) plus the bias.
TEST(KernelsDtypeMatmul, EveryElementIsTheFixedOrderDot) {
  ForEachCpuIsa([](CpuIsa) {
    uint32_t seed = 700;
    for (DType t : kNarrowTypes) {
      for (int64_t m : {1, 2, 4, 5, 6, 7, 8, 9, 12, 16, 17}) {
        for (int64_t n : {1, 7, 13, 131}) {
          for (int64_t k : {7, 31, 33, 64, 129, 520}) {
            const RandomMatmul c(m, n, k, t, seed);
            ASSERT_TRUE(c.MatchesReference(m, n, k, t))
                << DTypeName(t) << " m=" << m << " n=" << n << " k=" << k;
          }
        }
      }
    }
  });
}

// The wider paths keep the AVX2 path's bits for fp16 weights (and bf16
// where they do not use vdpbf16ps).
TEST(KernelsDtypeMatmul, WiderPathsGiveTheAvx2BitsWithoutBf16Dot) {
  uint32_t seed = 900;
  for (DType t : kNarrowTypes) {
    for (int64_t m : {1, 4, 8, 16, 19}) {
      for (auto [n, k] :
           std::vector<std::pair<int64_t, int64_t>>{{6, 7}, {31, 129}, {1001, 64}, {67, 2048}}) {
        const auto x = RandomVector(m * k, seed++);
        const auto narrow = Narrow(RandomVector(n * k, seed++), t);
        const auto bias = RandomVector(n, seed++);
        std::vector<float> avx2(static_cast<size_t>(m * n), NAN);
        ForEachCpuIsa([&](CpuIsa isa) {
          std::vector<float> got(avx2.size(), NAN);
          Matmul(x.data(), narrow.data(), bias.data(), m, n, k, got.data(), t);
          if (isa == CpuIsa::kAvx2) {
            avx2 = got;
            return;
          }
          if (t == DType::kBF16 && MatmulBf16UsesDotProduct()) return;
          ASSERT_TRUE(SameBits(got, avx2))
              << DTypeName(t) << " m=" << m << " n=" << n << " k=" << k;
        });
      }
    }
  }
}

TEST(KernelsDtypeMatmul, ThreadCountInvariantBitForBit) {
  ForEachCpuIsa([](CpuIsa) {
    for (DType t : kNarrowTypes) {
      for (int64_t m : {1, 37}) {
        const int64_t k = 173, n = 2000;
        const auto x = RandomVector(m * k, 31);
        const auto narrow = Narrow(RandomVector(n * k, 32), t);
        const auto bias = RandomVector(n, 33);
        std::vector<float> one(static_cast<size_t>(m * n)), two(one.size()), four(one.size());
        SetNumThreads(1);
        Matmul(x.data(), narrow.data(), bias.data(), m, n, k, one.data(), t);
        SetNumThreads(2);
        Matmul(x.data(), narrow.data(), bias.data(), m, n, k, two.data(), t);
        SetNumThreads(4);
        Matmul(x.data(), narrow.data(), bias.data(), m, n, k, four.data(), t);
        SetNumThreads(0);
        EXPECT_TRUE(SameBits(one, two)) << DTypeName(t) << " m=" << m;
        EXPECT_TRUE(SameBits(one, four)) << DTypeName(t) << " m=" << m;
      }
    }
  });
}

}  // namespace
}  // namespace inferd::kernels
