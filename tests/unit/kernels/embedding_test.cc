// tests/unit/kernels/embedding_test.cc — Embedding and WriteKvCache (copies).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::RandomVector;

TEST(KernelsEmbedding, GathersRows) {
  for (int64_t hidden : {1, 7, 128, 4099}) {
    const int64_t vocab = 513;
    const auto table = RandomVector(vocab * hidden, 1);
    const std::vector<int32_t> ids = {0, 512, 7, 7, 300, 1, 511};
    std::vector<float> out(ids.size() * hidden);
    Embedding(table.data(), vocab, hidden, ids.data(), static_cast<int64_t>(ids.size()),
              out.data());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_TRUE(BitEqual(out.data() + i * hidden, table.data() + ids[i] * hidden, hidden));
    }
  }
}

// A quantized table (what a GGUF file's embedding is served as under
// --quantization auto): each row gathered is its DequantizeRow.
TEST(KernelsEmbedding, DequantizesQuantizedRows) {
  const int64_t vocab = 37, hidden = 512;
  const std::vector<int32_t> ids = {0, 36, 5, 5, 17};
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                  DType::kQ5_0, DType::kQ5_1}) {
    std::vector<uint8_t> table(static_cast<size_t>(DTypeBytes(t, vocab * hidden)));
    std::mt19937 rng(static_cast<uint32_t>(t));
    for (uint8_t& b : table) b = static_cast<uint8_t>(rng());
    // Finite fp16 scales: every block's first field(s) are its d (and dmin).
    const int64_t block_bytes = DTypeBytes(t, QuantBlockElems(t));
    const int64_t scale_at = t == DType::kQ6_K ? block_bytes - 2 : 0;
    const int scales =
        t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ5_1 || t == DType::kQ4_1 ? 2 : 1;
    for (int64_t b = 0; b < vocab * hidden / QuantBlockElems(t); ++b) {
      for (int s = 0; s < scales; ++s) {
        const uint16_t h = F32ToF16(0.01f * static_cast<float>(b % 7 + 1));
        std::memcpy(table.data() + b * block_bytes + scale_at + 2 * s, &h, 2);
      }
    }
    std::vector<float> out(ids.size() * hidden, NAN), want(static_cast<size_t>(hidden));
    Embedding(table.data(), vocab, hidden, ids.data(), static_cast<int64_t>(ids.size()), out.data(),
              t);
    for (size_t i = 0; i < ids.size(); ++i) {
      DequantizeRow(t, table.data() + DTypeBytes(t, ids[i] * hidden), hidden, want.data());
      ASSERT_TRUE(BitEqual(out.data() + i * hidden, want.data(), hidden))
          << DTypeName(t) << " id " << ids[i];
    }
  }
}

TEST(KernelsWriteKvCache, ScattersToSlotsAndSkipsNegative) {
  const int64_t kv_dim = 2 * 16, block_size = 3, num_blocks = 5;
  const int64_t cache_size = num_blocks * block_size * kv_dim;
  std::vector<float> k_cache(cache_size, 7.0f), v_cache(cache_size, 8.0f);
  const std::vector<int32_t> slots = {4 * 3 + 2, -1, 0, 2 * 3 + 1, -5, 13};
  const int64_t n = static_cast<int64_t>(slots.size());
  const auto k = RandomVector(n * kv_dim, 1);
  const auto v = RandomVector(n * kv_dim, 2);
  WriteKvCache(k.data(), v.data(), slots.data(), n, kv_dim, k_cache.data(), v_cache.data());
  std::vector<bool> written(num_blocks * block_size, false);
  for (int64_t i = 0; i < n; ++i) {
    if (slots[i] < 0) continue;
    written[slots[i]] = true;
    EXPECT_TRUE(BitEqual(k_cache.data() + slots[i] * kv_dim, k.data() + i * kv_dim, kv_dim));
    EXPECT_TRUE(BitEqual(v_cache.data() + slots[i] * kv_dim, v.data() + i * kv_dim, kv_dim));
  }
  for (int64_t s = 0; s < num_blocks * block_size; ++s) {
    if (written[s]) continue;
    for (int64_t t = 0; t < kv_dim; ++t) {
      ASSERT_EQ(k_cache[s * kv_dim + t], 7.0f);
      ASSERT_EQ(v_cache[s * kv_dim + t], 8.0f);
    }
  }
}

}  // namespace
}  // namespace inferd::kernels
