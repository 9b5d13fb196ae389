// Block pool and KV cache manager: allocation, free, reference counts,
// exhaustion, block-table growth across block boundaries.
#include <algorithm>
#include <set>

#include "engine/kv_cache/block_pool.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

TEST(BlockPoolTest, AllocatesDistinctBlocksAndFreesThem) {
  BlockPool pool(8);
  EXPECT_EQ(pool.num_free_blocks(), 8);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.has_value());
  auto b = pool.Allocate(5);
  ASSERT_TRUE(b.has_value());
  std::set<int32_t> all(a->begin(), a->end());
  all.insert(b->begin(), b->end());
  EXPECT_EQ(all.size(), 8u);
  EXPECT_EQ(pool.num_free_blocks(), 0);
  for (int32_t blk : *a) EXPECT_EQ(pool.ref_count(blk), 1);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(BlockPoolTest, AllocationIsAllOrNothing) {
  BlockPool pool(4);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(pool.Allocate(2).has_value());
  EXPECT_EQ(pool.num_free_blocks(), 1);  // nothing was taken by the failed call
  EXPECT_TRUE(pool.Allocate(1).has_value());
  EXPECT_FALSE(pool.Allocate(1).has_value());
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(BlockPoolTest, SharedBlockIsFreedOnlyByItsLastOwner) {
  BlockPool pool(2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.has_value());
  pool.IncRef((*a)[0]);
  EXPECT_EQ(pool.ref_count((*a)[0]), 2);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(BlockPoolTest, FreedBlocksAreReusedInFreeOrder) {
  BlockPool pool(3);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.has_value());
  pool.Release({(*a)[2]});
  pool.Release({(*a)[0]});
  auto b = pool.Allocate(2);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ((*b)[0], (*a)[2]);
  EXPECT_EQ((*b)[1], (*a)[0]);
}

TEST(BlockPoolDeathTest, DoubleFreeIsAnInvariantViolation) {
  BlockPool pool(2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.has_value());
  pool.Release(*a);
  EXPECT_DEATH(pool.Release(*a), "double free");
}

TEST(KvCacheManagerTest, BlockTableGrowsAcrossBlockBoundaries) {
  KvCacheManager kv(/*num_blocks=*/10, /*block_size=*/4);
  EXPECT_EQ(kv.BlocksFor(0), 0);
  EXPECT_EQ(kv.BlocksFor(1), 1);
  EXPECT_EQ(kv.BlocksFor(4), 1);
  EXPECT_EQ(kv.BlocksFor(5), 2);
  ASSERT_TRUE(kv.Allocate(7, 3));
  EXPECT_EQ(kv.BlockTable(7).size(), 1u);
  ASSERT_TRUE(kv.Allocate(7, 4));  // still fits in the first block
  EXPECT_EQ(kv.BlockTable(7).size(), 1u);
  const int32_t first = kv.BlockTable(7)[0];
  ASSERT_TRUE(kv.Allocate(7, 5));  // crosses into a second block
  ASSERT_EQ(kv.BlockTable(7).size(), 2u);
  EXPECT_EQ(kv.BlockTable(7)[0], first);  // existing blocks never move
  ASSERT_TRUE(kv.Allocate(7, 17));
  EXPECT_EQ(kv.BlockTable(7).size(), 5u);
  EXPECT_EQ(kv.num_free_blocks(), 5);
  EXPECT_TRUE(kv.CheckIntegrity().ok());
}

TEST(KvCacheManagerTest, ExhaustionChangesNothingAndFreeGivesEverythingBack) {
  KvCacheManager kv(/*num_blocks=*/4, /*block_size=*/16);
  ASSERT_TRUE(kv.Allocate(1, 40));   // 3 blocks
  EXPECT_FALSE(kv.Allocate(2, 17));  // needs 2, only 1 free
  EXPECT_TRUE(kv.BlockTable(2).empty());
  EXPECT_EQ(kv.num_sequences(), 1);
  EXPECT_FALSE(kv.Allocate(1, 65));  // growing seq 1 to 5 blocks fails whole
  EXPECT_EQ(kv.BlockTable(1).size(), 3u);
  EXPECT_EQ(kv.num_free_blocks(), 1);
  kv.Free(1);
  EXPECT_EQ(kv.num_free_blocks(), 4);
  EXPECT_EQ(kv.num_sequences(), 0);
  kv.Free(1);  // unknown: no-op
  EXPECT_TRUE(kv.CheckIntegrity().ok());
}

TEST(KvCacheManagerTest, ManySequencesNeverShareBlocks) {
  KvCacheManager kv(/*num_blocks=*/64, /*block_size=*/3);
  for (SeqId s = 0; s < 10; ++s) ASSERT_TRUE(kv.Allocate(s, 1 + 2 * s));
  std::set<int32_t> seen;
  int64_t total = 0;
  for (SeqId s = 0; s < 10; ++s) {
    for (int32_t b : kv.BlockTable(s)) seen.insert(b);
    total += static_cast<int64_t>(kv.BlockTable(s).size());
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  EXPECT_EQ(kv.num_free_blocks(), 64 - total);
  EXPECT_TRUE(kv.CheckIntegrity().ok());
}

}  // namespace
}  // namespace inferd::engine
