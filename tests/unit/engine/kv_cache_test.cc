// Block pool and KV cache manager: allocation, free, reference counts,
// exhaustion, block-table growth across block boundaries, and the prefix
// cache (hash chaining, hits, sharing, LRU eviction, integrity checks).
#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

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
  pool.Touch((*a)[0]);
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

BlockHash H(uint64_t x) { return BlockHash{x, ~x}; }

TEST(BlockHashTest, ChainsParentAndTokens) {
  const std::vector<int32_t> t1 = {1, 2, 3, 4};
  const std::vector<int32_t> t2 = {1, 2, 3, 5};
  const BlockHash a = HashBlock(std::nullopt, t1);
  EXPECT_EQ(a, HashBlock(std::nullopt, t1));
  EXPECT_NE(a, HashBlock(std::nullopt, t2));
  // Same tokens after a different parent (another position or prefix).
  EXPECT_NE(HashBlock(a, t1), HashBlock(HashBlock(std::nullopt, t2), t1));
  EXPECT_NE(HashBlock(a, t1), a);
  // The extra key separates otherwise identical blocks.
  EXPECT_NE(HashBlock(std::nullopt, t1, 1), a);
}

TEST(BlockPoolTest, CachedFreeBlockIsTouchedBackOrEvictedLeastRecentlyFreedFirst) {
  BlockPool pool(3);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(pool.Cache((*a)[0], H(10)));
  ASSERT_TRUE(pool.Cache((*a)[1], H(11)));
  EXPECT_FALSE(pool.Cache((*a)[2], H(10)));   // another block caches that hash
  EXPECT_FALSE(pool.Cache((*a)[0], H(12)));   // already caches something
  pool.Release({(*a)[1], (*a)[0], (*a)[2]});  // free order: 1, 0, 2
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_EQ(pool.num_cached_free_blocks(), 2);
  EXPECT_EQ(pool.Lookup(H(10)), (*a)[0]);
  // A hit takes the block out of the middle of the free list.
  pool.Touch((*a)[0]);
  EXPECT_EQ(pool.ref_count((*a)[0]), 1);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
  // Allocation evicts from the head: block 1 (freed first) loses its hash.
  auto b = pool.Allocate(1);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ((*b)[0], (*a)[1]);
  EXPECT_FALSE(pool.Lookup(H(11)).has_value());
  EXPECT_FALSE(pool.CachedHash((*a)[1]).has_value());
  EXPECT_EQ(pool.num_cached_free_blocks(), 0);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

std::vector<int32_t> Iota(int n, int32_t first = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(KvCacheManagerTest, PrefixHitIsSharedAndAllocationStaysAllOrNothing) {
  KvCacheManager kv(/*num_blocks=*/4, /*block_size=*/2);
  const std::vector<int32_t> tokens = Iota(6);
  std::vector<BlockHash> hashes;
  kv.HashFullBlocks(tokens, &hashes);
  ASSERT_EQ(hashes.size(), 3u);
  ASSERT_TRUE(kv.Allocate(1, 6));
  kv.CacheFullBlocks(1, hashes, /*num_computed=*/5);  // blocks 0 and 1 are full and computed
  EXPECT_EQ(kv.FindCachedPrefix(hashes, 6).blocks.size(), 2u);
  EXPECT_EQ(kv.FindCachedPrefix(hashes, 3).blocks.size(), 1u);  // at most max_tokens
  kv.Free(1);
  EXPECT_EQ(kv.num_free_blocks(), 4);
  EXPECT_EQ(kv.num_cached_free_blocks(), 2);

  // Sequence 2 reuses both cached blocks and needs 3 more: only 2 are
  // really free once the hits leave the free list, so nothing changes.
  const PrefixHit hit = kv.FindCachedPrefix(hashes, 5);
  ASSERT_EQ(hit.blocks.size(), 2u);
  EXPECT_FALSE(kv.Allocate(2, 10, &hit));
  EXPECT_EQ(kv.num_free_blocks(), 4);
  EXPECT_EQ(kv.num_cached_free_blocks(), 2);
  EXPECT_TRUE(kv.BlockTable(2).empty());
  // 2 hit + 1 new fits.
  ASSERT_TRUE(kv.Allocate(2, 6, &hit));
  EXPECT_EQ(kv.BlockTable(2)[0], hit.blocks[0]);
  EXPECT_EQ(kv.BlockTable(2)[1], hit.blocks[1]);
  // Sequence 3 shares the same two blocks while 2 holds them.
  const PrefixHit hit3 = kv.FindCachedPrefix(hashes, 5);
  ASSERT_TRUE(kv.Allocate(3, 5, &hit3));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_TRUE(kv.CheckIntegrity().ok());
  kv.Free(2);
  kv.Free(3);
  EXPECT_EQ(kv.num_free_blocks(), 4);
  EXPECT_TRUE(kv.CheckIntegrity().ok());
}

TEST(KvCacheManagerTest, PrefixCachingOffCachesNothing) {
  KvCacheManager kv(4, 2, /*enable_prefix_caching=*/false);
  std::vector<BlockHash> hashes;
  kv.HashFullBlocks(Iota(6), &hashes);
  EXPECT_TRUE(hashes.empty());
  ASSERT_TRUE(kv.Allocate(1, 6));
  kv.CacheFullBlocks(1, hashes, 6);
  kv.Free(1);
  EXPECT_EQ(kv.num_cached_free_blocks(), 0);
}

TEST(KvCacheManagerTest, FreeEvictsTheTailOfASequenceFirst) {
  KvCacheManager kv(3, 2);
  std::vector<BlockHash> hashes;
  kv.HashFullBlocks(Iota(6), &hashes);
  ASSERT_TRUE(kv.Allocate(1, 6));
  kv.CacheFullBlocks(1, hashes, 6);
  kv.Free(1);
  ASSERT_TRUE(kv.Allocate(2, 1));  // evicts one block: the last one
  EXPECT_EQ(kv.FindCachedPrefix(hashes, 6).blocks.size(), 2u);
  ASSERT_TRUE(kv.Allocate(3, 1));
  EXPECT_EQ(kv.FindCachedPrefix(hashes, 6).blocks.size(), 1u);
}

TEST(KvCacheManagerTest, IdenticalBlockComputedTwiceIsCachedOnce) {
  KvCacheManager kv(8, 2);
  std::vector<BlockHash> hashes;
  kv.HashFullBlocks(Iota(4), &hashes);
  ASSERT_TRUE(kv.Allocate(1, 4));
  ASSERT_TRUE(kv.Allocate(2, 4));  // computed side by side, no hit
  kv.CacheFullBlocks(1, hashes, 4);
  kv.CacheFullBlocks(2, hashes, 4);
  EXPECT_TRUE(kv.CheckIntegrity().ok());
  const PrefixHit hit = kv.FindCachedPrefix(hashes, 4);
  ASSERT_EQ(hit.blocks.size(), 2u);
  EXPECT_EQ(hit.blocks[0], kv.BlockTable(1)[0]);
  kv.Free(1);
  kv.Free(2);
  EXPECT_EQ(kv.num_cached_free_blocks(), 2);  // sequence 2's copies were not cached
  EXPECT_TRUE(kv.CheckIntegrity().ok());
}

TEST(KvCacheManagerTest, TruncateReturnsTheTailBlocks) {
  KvCacheManager kv(8, 4, /*enable_prefix_caching=*/true);
  ASSERT_TRUE(kv.Allocate(1, 15));  // 4 blocks
  const std::vector<int32_t> table = kv.BlockTable(1);
  kv.Truncate(1, 9);  // 3 blocks hold 9 tokens
  EXPECT_EQ(kv.BlockTable(1), std::vector<int32_t>(table.begin(), table.begin() + 3));
  EXPECT_EQ(kv.num_free_blocks(), 5);
  kv.Truncate(1, 12);  // growing is Allocate's job: no-op
  EXPECT_EQ(kv.BlockTable(1).size(), 3u);
  kv.Truncate(2, 0);  // unknown sequence: no-op
  EXPECT_TRUE(kv.CheckIntegrity().ok());
  kv.Free(1);
  EXPECT_EQ(kv.num_free_blocks(), 8);
}

}  // namespace
}  // namespace inferd::engine
