// tests/unit/tokenizer/bpe_merge_test.cc — BpeMergeAll: merge order (rank,
// then leftmost), chains of merges, and merges of the first symbol.
//
// Regression (tests/fuzz/regressions/tokenizer_json_fuzz): a merge into the
// first symbol asked for the pair left of it, and push_pair read sym[-1]
// before checking the index (an out-of-bounds read on every BPE encode that
// merged at position 0; ASan/UBSan in the fuzz build report it, the plain
// build gave the right ids by luck).
#include "engine/tokenizer/bpe_merge.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// Ids: a=0 b=1 c=2 ab=3 abc=4 bc=5.
BpeMergeMap Merges() {
  BpeMergeMap m;
  m[BpePairKey(0, 1)] = {0, 3};  // a b -> ab (rank 0)
  m[BpePairKey(3, 2)] = {1, 4};  // ab c -> abc
  m[BpePairKey(1, 2)] = {2, 5};  // b c -> bc
  return m;
}

std::vector<int32_t> Merge(const std::vector<int32_t>& ids) {
  std::vector<int32_t> out;
  BpeMergeAll(Merges(), ids, &out);
  return out;
}

TEST(BpeMergeTest, MergesTheFirstSymbol) {
  EXPECT_EQ(Merge({0, 1}), (std::vector<int32_t>{3}));
  EXPECT_EQ(Merge({0, 1, 2}), (std::vector<int32_t>{4}));
}

TEST(BpeMergeTest, LowerRankFirstThenLeftmost) {
  EXPECT_EQ(Merge({2, 0, 1, 2}), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(Merge({0, 1, 0, 1}), (std::vector<int32_t>{3, 3}));
  EXPECT_EQ(Merge({1, 2, 1, 2}), (std::vector<int32_t>{5, 5}));
}

TEST(BpeMergeTest, ShortInputsAreCopied) {
  EXPECT_EQ(Merge({}), (std::vector<int32_t>{}));
  EXPECT_EQ(Merge({2}), (std::vector<int32_t>{2}));
  EXPECT_EQ(Merge({2, 2}), (std::vector<int32_t>{2, 2}));
}

}  // namespace
}  // namespace inferd::engine
