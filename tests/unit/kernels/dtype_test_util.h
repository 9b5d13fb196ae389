// tests/unit/kernels/dtype_test_util.h — 16-bit dtype helpers shared by the
// bf16/fp16 kernel tests (dtype_kernels_test.cc, dtype_matmul_test.cc): the
// scalar conversions of kernels/dtype.h, narrowing and widening whole vectors,
// and a bit-for-bit comparison that names the first difference.
#ifndef INFERD_TESTS_UNIT_KERNELS_DTYPE_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_KERNELS_DTYPE_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"

namespace inferd::kernels::testing {

inline constexpr DType kNarrowTypes[] = {DType::kBF16, DType::kF16};

inline uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The scalar conversions of kernels/dtype.h for a 16-bit dtype.
inline uint16_t NarrowScalar(float f, DType t) {
  return t == DType::kBF16 ? F32ToBF16(f) : F32ToF16(f);
}
inline float WidenScalar(uint16_t h, DType t) {
  return t == DType::kBF16 ? BF16ToF32(h) : F16ToF32(h);
}

// v narrowed by ConvertFromF32 (the kernels' own narrowing).
inline std::vector<uint16_t> Narrow(const std::vector<float>& v, DType t) {
  std::vector<uint16_t> out(v.size());
  ConvertFromF32(v.data(), static_cast<int64_t>(v.size()), out.data(), t);
  return out;
}

// h widened element by element with the scalar functions.
inline std::vector<float> Widen(const std::vector<uint16_t>& h, DType t) {
  std::vector<float> out(h.size());
  for (size_t i = 0; i < h.size(); ++i) out[i] = WidenScalar(h[i], t);
  return out;
}

inline bool IsF16NaN(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }
inline bool IsBF16NaN(uint16_t h) { return (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0; }

// First index where a and b differ (bitwise), or -1.
inline int64_t FirstDiff(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (Bits(a[i]) != Bits(b[i])) return i;
  }
  return -1;
}

// Every element finite and bit-equal; the first difference in the message.
inline ::testing::AssertionResult SameBits(const std::vector<float>& got,
                                           const std::vector<float>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  }
  const int64_t n = static_cast<int64_t>(got.size());
  for (int64_t i = 0; i < n; ++i) {
    // Outputs start as NaN: a value never written must not pass as equal.
    if (!std::isfinite(got[i])) {
      return ::testing::AssertionFailure() << "element " << i << " of " << n << " is " << got[i];
    }
  }
  // (FirstDiff, not memcmp: g++ 12's -Wstringop-overread misreads the bound
  // of a memcmp here under -O1 -fsanitize=thread.)
  const int64_t i = FirstDiff(got.data(), want.data(), n);
  if (i < 0) return ::testing::AssertionSuccess();
  // (AssertionResult streams each value on its own: format the hex first.)
  std::ostringstream msg;
  msg << "first difference at element " << i << " of " << n << ": " << got[i] << " (0x" << std::hex
      << Bits(got[i]) << ") vs " << want[i] << " (0x" << Bits(want[i]) << ")";
  return ::testing::AssertionFailure() << msg.str();
}

}  // namespace inferd::kernels::testing

#endif  // INFERD_TESTS_UNIT_KERNELS_DTYPE_TEST_UTIL_H_
