// tests/unit/model/gguf_kquants_test.cc — Q4_K and Q6_K dequantization
// (engine/model/gguf_kquants.h) against llama.cpp's own dequantizer on random
// super-blocks, bit for bit (gguf_kquants_expected.inc, made by
// gen_gguf_kquants_expected.py from gguf-py).
#include "engine/model/gguf_kquants.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

#include "tests/unit/model/gguf_kquants_expected.inc"

template <size_t NB, size_t NV>
void ExpectDequantizes(const uint8_t (&blocks)[NB], const uint32_t (&want)[NV], int64_t block_bytes,
                       void (*dequantize)(const uint8_t*, int64_t, float*)) {
  static_assert(NV % kKQuantBlockElems == 0);
  ASSERT_EQ(static_cast<int64_t>(NB) / block_bytes * kKQuantBlockElems, static_cast<int64_t>(NV));
  std::vector<float> got(NV);
  dequantize(blocks, static_cast<int64_t>(NV), got.data());
  for (size_t i = 0; i < NV; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &got[i], sizeof(bits));
    ASSERT_EQ(bits, want[i]) << "element " << i << ": got " << got[i];
  }
}

TEST(GgufKQuantsTest, Q4KEqualsLlamaCpp) {
  ExpectDequantizes(kQ4KBlocks, kQ4KValues, kQ4KBlockBytes, DequantizeRowQ4K);
}

TEST(GgufKQuantsTest, Q6KEqualsLlamaCpp) {
  ExpectDequantizes(kQ6KBlocks, kQ6KValues, kQ6KBlockBytes, DequantizeRowQ6K);
}

}  // namespace
}  // namespace inferd::engine
