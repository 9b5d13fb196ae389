// tests/unit/model/dtype_test.cc — exhaustive F16/BF16 -> F32 conversion
// against a value-level reference.
#include "engine/model/dtype.h"

#include <bit>
#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// (-1)^s * (e == 0 ? m * 2^-24 : (1024 + m) * 2^(e - 25)), e == 31: inf/NaN.
double F16Reference(uint16_t bits) {
  const int sign = bits >> 15, e = (bits >> 10) & 31, m = bits & 1023;
  double v;
  if (e == 31) {
    v = m == 0 ? INFINITY : NAN;
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), -24);
  } else {
    v = std::ldexp(static_cast<double>(1024 + m), e - 25);
  }
  return sign ? -v : v;
}

TEST(DTypeTest, F16ToF32IsExactForAllValues) {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const float got = F16ToF32(bits);
    const double want = F16Reference(bits);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << b;
      // Sign and payload are kept (the top 10 mantissa bits carry the f16
      // payload) and the NaN is quiet, as F16C's vcvtph2ps makes it.
      ASSERT_EQ(std::bit_cast<uint32_t>(got),
                (static_cast<uint32_t>(b & 0x8000) << 16) | 0x7FC00000u | ((b & 0x3FF) << 13))
          << std::hex << b;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << b;
      ASSERT_EQ(std::signbit(got), (b & 0x8000) != 0) << std::hex << b;
    }
  }
}

TEST(DTypeTest, BF16ToF32IsTheUpperHalf) {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    ASSERT_EQ(std::bit_cast<uint32_t>(BF16ToF32(static_cast<uint16_t>(b))), b << 16);
  }
}

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_EQ(ParseDType("F32"), DType::kF32);
  EXPECT_EQ(ParseDType("F16"), DType::kF16);
  EXPECT_EQ(ParseDType("BF16"), DType::kBF16);
  EXPECT_FALSE(ParseDType("F64").has_value());
  EXPECT_FALSE(ParseDType("bf16").has_value());
  EXPECT_EQ(DTypeSize(DType::kF32), 4);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2);
  EXPECT_STREQ(SafetensorsDTypeName(DType::kF16), "F16");
}

}  // namespace
}  // namespace inferd::engine
