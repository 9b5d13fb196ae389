// tests/unit/kernels/quant_blocks_test.cc — kernels/quant_blocks.h: the
// quantizers write llama.cpp's Q8_0/Q4_0 bytes for the same fp32 input (the
// expected bytes come from llama.cpp's own quantizer:
// gen_quant_blocks_expected.py), and dequantizing inverts them within half a
// step.
#include "kernels/quant_blocks.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

#include "tests/unit/kernels/quant_blocks_expected.inc"

std::vector<float> ExpectedInput() {
  std::vector<float> x(kQuantExpectedElems);
  std::memcpy(x.data(), kQuantInputBits, sizeof(kQuantInputBits));
  return x;
}

// The first differing block, for a readable failure.
::testing::AssertionResult SameBlocks(const uint8_t* got, const uint8_t* want, int64_t blocks,
                                      int64_t block_bytes) {
  for (int64_t b = 0; b < blocks; ++b) {
    if (std::memcmp(got + b * block_bytes, want + b * block_bytes, block_bytes) != 0) {
      auto f = ::testing::AssertionFailure() << "block " << b << " differs:";
      for (int64_t i = 0; i < block_bytes; ++i) {
        f << " " << int{got[b * block_bytes + i]} << "/" << int{want[b * block_bytes + i]};
      }
      return f;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(QuantBlocks, Q8_0BytesEqualLlamaCpp) {
  const std::vector<float> x = ExpectedInput();
  static_assert(sizeof(kExpectedQ8_0) == kQuantExpectedElems / 32 * sizeof(BlockQ8_0));
  std::vector<BlockQ8_0> got(kQuantExpectedElems / 32);
  QuantizeRowQ8_0(x.data(), kQuantExpectedElems, got.data());
  EXPECT_TRUE(SameBlocks(reinterpret_cast<const uint8_t*>(got.data()), kExpectedQ8_0,
                         kQuantExpectedElems / 32, sizeof(BlockQ8_0)));
  // By DType too, with the size DTypeBytes gives.
  std::vector<uint8_t> by_type(DTypeBytes(DType::kQ8_0, kQuantExpectedElems));
  ASSERT_EQ(by_type.size(), sizeof(kExpectedQ8_0));
  QuantizeRow(DType::kQ8_0, x.data(), kQuantExpectedElems, by_type.data());
  EXPECT_EQ(std::memcmp(by_type.data(), kExpectedQ8_0, by_type.size()), 0);
}

TEST(QuantBlocks, Q4_0BytesEqualLlamaCpp) {
  const std::vector<float> x = ExpectedInput();
  static_assert(sizeof(kExpectedQ4_0) == kQuantExpectedElems / 32 * sizeof(BlockQ4_0));
  std::vector<BlockQ4_0> got(kQuantExpectedElems / 32);
  QuantizeRowQ4_0(x.data(), kQuantExpectedElems, got.data());
  EXPECT_TRUE(SameBlocks(reinterpret_cast<const uint8_t*>(got.data()), kExpectedQ4_0,
                         kQuantExpectedElems / 32, sizeof(BlockQ4_0)));
  std::vector<uint8_t> by_type(DTypeBytes(DType::kQ4_0, kQuantExpectedElems));
  ASSERT_EQ(by_type.size(), sizeof(kExpectedQ4_0));
  QuantizeRow(DType::kQ4_0, x.data(), kQuantExpectedElems, by_type.data());
  EXPECT_EQ(std::memcmp(by_type.data(), kExpectedQ4_0, by_type.size()), 0);
}

// Dequantized values are within half a step (d / 2) of the input (plus the
// fp16 rounding of d itself), and a zero block stays zero.
TEST(QuantBlocks, DequantizeInvertsWithinHalfAStep) {
  const int64_t k = 32 * 37;
  const auto x = testing::RandomVector(k, 5, -3.0f, 3.0f);
  for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
    std::vector<uint8_t> q(DTypeBytes(t, k));
    QuantizeRow(t, x.data(), k, q.data());
    std::vector<float> y(k);
    DequantizeRow(t, q.data(), k, y.data());
    for (int64_t b = 0; b < k / 32; ++b) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[b * 32 + j]));
      // Q8_0: step amax/127; Q4_0: step amax/8, and the far side of the
      // largest element can clip at +7 steps (an extra step of error).
      const double step = t == DType::kQ8_0 ? amax / 127.0 : amax / 8.0;
      const double bound = t == DType::kQ8_0 ? 0.5 * step + amax * 1e-3 : step + amax * 1e-3;
      for (int j = 0; j < 32; ++j) {
        ASSERT_LE(std::fabs(y[b * 32 + j] - x[b * 32 + j]), bound)
            << DTypeName(t) << " block " << b << " element " << j;
      }
    }
  }
  std::vector<float> zeros(64, 0.0f), back(64, 1.0f);
  std::vector<uint8_t> q(DTypeBytes(DType::kQ4_0, 64));
  QuantizeRow(DType::kQ4_0, zeros.data(), 64, q.data());
  DequantizeRow(DType::kQ4_0, q.data(), 64, back.data());
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

// Non-finite inputs give defined codes (no undefined float -> int casts).
TEST(QuantBlocks, NonFiniteInputsAreDefined) {
  std::vector<float> x(32, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[4] = std::numeric_limits<float>::infinity();
  BlockQ8_0 q8;
  QuantizeRowQ8_0(x.data(), 32, &q8);
  EXPECT_EQ(q8.qs[3], 0);  // id = 0 for an infinite scale: every code is 0 or NaN -> 0
  BlockQ4_0 q4;
  QuantizeRowQ4_0(x.data(), 32, &q4);
  for (uint8_t byte : q4.qs) EXPECT_LE(byte & 0x0F, 15);
}

TEST(QuantBlocks, SizesAndNames) {
  EXPECT_EQ(DTypeBytes(DType::kQ8_0, 64), 68);
  EXPECT_EQ(DTypeBytes(DType::kQ4_0, 64), 36);
  EXPECT_EQ(DTypeBytes(DType::kBF16, 3), 6);
  EXPECT_STREQ(DTypeName(DType::kQ8_0), "q8_0");
  EXPECT_STREQ(DTypeName(DType::kQ4_0), "q4_0");
  EXPECT_TRUE(IsQuantized(DType::kQ4_0));
  EXPECT_FALSE(IsQuantized(DType::kF16));
}

}  // namespace
}  // namespace inferd::kernels
