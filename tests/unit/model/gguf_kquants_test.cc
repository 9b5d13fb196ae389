// tests/unit/model/gguf_kquants_test.cc — dequantization of the block types
// only GGUF files bring: the k-quants Q4_K, Q5_K and Q6_K
// (kernels/quant_kblocks.h) and the load-only Q5_0, Q5_1 and Q4_1
// (kernels/quant_blocks.h), against llama.cpp's own dequantizer on random
// super-blocks, bit for bit (gguf_kquants_expected.inc, made by
// gen_gguf_kquants_expected.py from gguf-py).
#include "kernels/quant_blocks.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

#include "tests/unit/model/gguf_kquants_expected.inc"

using kernels::BlockQ4_K;
using kernels::BlockQ5_K;
using kernels::BlockQ6_K;
using kernels::kKQuantBlockElems;

template <typename Block, size_t NB, size_t NV>
void ExpectDequantizes(const uint8_t (&blocks)[NB], const uint32_t (&want)[NV],
                       void (*dequantize)(const Block*, int64_t, float*),
                       int64_t block_elems = kKQuantBlockElems) {
  ASSERT_EQ(NV % block_elems, 0u);
  ASSERT_EQ(static_cast<int64_t>(NB / sizeof(Block)) * block_elems, static_cast<int64_t>(NV));
  std::vector<Block> copy(NB / sizeof(Block));  // aligned for Block
  std::memcpy(copy.data(), blocks, NB);
  std::vector<float> got(NV);
  dequantize(copy.data(), static_cast<int64_t>(NV), got.data());
  for (size_t i = 0; i < NV; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &got[i], sizeof(bits));
    ASSERT_EQ(bits, want[i]) << "element " << i << ": got " << got[i];
  }
}

TEST(GgufKQuantsTest, Q4KEqualsLlamaCpp) {
  ExpectDequantizes(kQ4KBlocks, kQ4KValues, kernels::DequantizeRowQ4_K);
}

TEST(GgufKQuantsTest, Q5KEqualsLlamaCpp) {
  ExpectDequantizes(kQ5KBlocks, kQ5KValues, kernels::DequantizeRowQ5_K);
}

TEST(GgufKQuantsTest, Q6KEqualsLlamaCpp) {
  ExpectDequantizes(kQ6KBlocks, kQ6KValues, kernels::DequantizeRowQ6_K);
}

TEST(GgufKQuantsTest, Q5_0EqualsLlamaCpp) {
  ExpectDequantizes(kQ5_0Blocks, kQ5_0Values, kernels::DequantizeRowQ5_0,
                    kernels::kQuantBlockElems);
}

TEST(GgufKQuantsTest, Q5_1EqualsLlamaCpp) {
  ExpectDequantizes(kQ5_1Blocks, kQ5_1Values, kernels::DequantizeRowQ5_1,
                    kernels::kQuantBlockElems);
}

TEST(GgufKQuantsTest, Q4_1EqualsLlamaCpp) {
  ExpectDequantizes(kQ4_1Blocks, kQ4_1Values, kernels::DequantizeRowQ4_1,
                    kernels::kQuantBlockElems);
}

}  // namespace
}  // namespace inferd::engine
