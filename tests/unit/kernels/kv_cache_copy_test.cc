// tests/unit/kernels/kv_cache_copy_test.cc — CopyKvSlots against a naive
// element-by-element loop (sequential semantics: later moves see earlier
// ones), on odd row widths, chains, repeated and self moves, and bit-for-bit
// thread-count invariance.
#include <cstdint>
#include <random>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::RandomVector;

// The documented semantics, one element at a time.
void ReferenceCopy(const std::vector<int32_t>& src, const std::vector<int32_t>& dst, int64_t kv_dim,
                   std::vector<float>* k, std::vector<float>* v) {
  for (size_t i = 0; i < src.size(); ++i) {
    for (int64_t c = 0; c < kv_dim; ++c) {
      (*k)[dst[i] * kv_dim + c] = (*k)[src[i] * kv_dim + c];
      (*v)[dst[i] * kv_dim + c] = (*v)[src[i] * kv_dim + c];
    }
  }
}

// Random moves among `num_slots` slots: about a third of them read a slot an
// earlier move wrote (chains), a few move a slot onto itself.
void RandomMoves(int64_t n, int32_t num_slots, uint32_t seed, std::vector<int32_t>* src,
                 std::vector<int32_t>* dst) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> slot(0, num_slots - 1);
  std::uniform_int_distribution<int> kind(0, 9);
  for (int64_t i = 0; i < n; ++i) {
    const int k = kind(rng);
    const int32_t s = (k < 3 && i > 0) ? (*dst)[rng() % i] : slot(rng);
    src->push_back(s);
    dst->push_back(k == 9 ? s : slot(rng));
  }
}

TEST(KernelsCopyKvSlots, MatchesSequentialReference) {
  const int32_t num_slots = 97;
  uint32_t seed = 1;
  for (int64_t kv_dim : {1, 7, 16, 33, 160, 1000}) {
    for (int64_t n : {0, 1, 5, 64, 300}) {
      auto k = RandomVector(num_slots * kv_dim, ++seed);
      auto v = RandomVector(num_slots * kv_dim, ++seed);
      std::vector<int32_t> src, dst;
      RandomMoves(n, num_slots, ++seed, &src, &dst);
      auto k_ref = k, v_ref = v;
      ReferenceCopy(src, dst, kv_dim, &k_ref, &v_ref);
      CopyKvSlots(src.data(), dst.data(), n, kv_dim, k.data(), v.data());
      EXPECT_TRUE(BitEqual(k.data(), k_ref.data(), num_slots * kv_dim))
          << "kv_dim " << kv_dim << " n " << n;
      EXPECT_TRUE(BitEqual(v.data(), v_ref.data(), num_slots * kv_dim))
          << "kv_dim " << kv_dim << " n " << n;
    }
  }
}

// The semantics spelled out on a handful of rows, independently of the
// reference loop.
TEST(KernelsCopyKvSlots, LaterMovesSeeEarlierOnes) {
  const int64_t kv_dim = 37;  // a tail past two column chunks
  const auto k0 = RandomVector(6 * kv_dim, 11);
  const auto v0 = RandomVector(6 * kv_dim, 12);
  auto k = k0, v = v0;
  // 0 -> 1, 1 -> 2 (carries row 0 on), 3 -> 4, 4 -> 3 (both end as row 3), 5 -> 5.
  const std::vector<int32_t> src = {0, 1, 3, 4, 5};
  const std::vector<int32_t> dst = {1, 2, 4, 3, 5};
  CopyKvSlots(src.data(), dst.data(), 5, kv_dim, k.data(), v.data());
  const int want[6] = {0, 0, 0, 3, 3, 5};  // original row now in each slot
  for (int slot = 0; slot < 6; ++slot) {
    EXPECT_TRUE(BitEqual(k.data() + slot * kv_dim, k0.data() + want[slot] * kv_dim, kv_dim))
        << "K slot " << slot;
    EXPECT_TRUE(BitEqual(v.data() + slot * kv_dim, v0.data() + want[slot] * kv_dim, kv_dim))
        << "V slot " << slot;
  }
}

// Rows wide enough to be split across threads: same bits for 1, 2, 3 threads
// as the reference.
TEST(KernelsCopyKvSlots, ThreadCountInvariantBitForBit) {
  const int32_t num_slots = 200;
  const int64_t kv_dim = 4104;  // 256 column chunks of 16 plus a tail of 8
  std::vector<int32_t> src, dst;
  RandomMoves(64, num_slots, 77, &src, &dst);
  const auto k0 = RandomVector(num_slots * kv_dim, 78);
  const auto v0 = RandomVector(num_slots * kv_dim, 79);
  auto k_ref = k0, v_ref = v0;
  ReferenceCopy(src, dst, kv_dim, &k_ref, &v_ref);
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    auto k = k0, v = v0;
    CopyKvSlots(src.data(), dst.data(), 64, kv_dim, k.data(), v.data());
    EXPECT_TRUE(BitEqual(k.data(), k_ref.data(), num_slots * kv_dim)) << threads << " threads";
    EXPECT_TRUE(BitEqual(v.data(), v_ref.data(), num_slots * kv_dim)) << threads << " threads";
  }
  SetNumThreads(0);
}

TEST(KernelsCopyKvSlotsDeathTest, NegativeSlotAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto k = RandomVector(4 * 8, 1), v = RandomVector(4 * 8, 2);
  const std::vector<int32_t> src = {0, -1}, dst = {1, 2};
  EXPECT_DEATH(CopyKvSlots(src.data(), dst.data(), 2, 8, k.data(), v.data()),
               "CopyKvSlots move 1: -1 -> 2");
}

}  // namespace
}  // namespace inferd::kernels
