// tests/unit/kernels/embedding_test.cc — Embedding and WriteKvCache (copies).
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
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
