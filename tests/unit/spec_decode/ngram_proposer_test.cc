// tests/unit/spec_decode/ngram_proposer_test.cc — prompt lookup: the latest
// earlier match of the longest suffix, its continuation capped at k.
#include "engine/spec_decode/ngram_proposer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(NgramLookupTest, ProposesWhatFollowedTheLatestMatchOfTheLongestSuffix) {
  // Suffix [3, 4] occurs at 2 (followed by 9, 9) and at 6 (followed by 5, 6).
  const std::vector<int32_t> t = {1, 2, 3, 4, 9, 9, 3, 4, 5, 6, 7, 3, 4};
  EXPECT_THAT(NgramLookup(t, 1, 4, 3), ElementsAre(5, 6, 7));
  EXPECT_THAT(NgramLookup(t, 1, 4, 1), ElementsAre(5));
}

TEST(NgramLookupTest, LongerSuffixesWinOverLaterShorterMatches) {
  // [8, 3, 4] matches at 0 (followed by 1); [3, 4] alone matches later at 5.
  const std::vector<int32_t> t = {8, 3, 4, 1, 2, 3, 4, 6, 8, 3, 4};
  EXPECT_THAT(NgramLookup(t, 1, 3, 2), ElementsAre(1, 2));
  EXPECT_THAT(NgramLookup(t, 1, 2, 2), ElementsAre(6, 8));
}

TEST(NgramLookupTest, ContinuationStopsAtTheEndOfTheHistory) {
  const std::vector<int32_t> t = {5, 6, 5, 6, 5};
  // Latest earlier [6, 5] at 1, followed by 6, 5 (the history's end).
  EXPECT_THAT(NgramLookup(t, 1, 2, 8), ElementsAre(6, 5));
}

TEST(NgramLookupTest, NoMatchNoDraft) {
  EXPECT_THAT(NgramLookup(std::vector<int32_t>{1, 2, 3, 4}, 1, 4, 4), IsEmpty());
  EXPECT_THAT(NgramLookup(std::vector<int32_t>{7}, 1, 4, 4), IsEmpty());
  EXPECT_THAT(NgramLookup(std::vector<int32_t>{7, 7}, 1, 4, 0), IsEmpty());
  // min_n = 2: a single repeated token is not enough.
  EXPECT_THAT(NgramLookup(std::vector<int32_t>{1, 9, 2, 9}, 2, 4, 4), IsEmpty());
}

TEST(NgramProposerTest, FillsEachRequestsDraft) {
  NgramProposer proposer(1, 4);
  Sequence a, b;
  a.token_ids = {1, 2, 3, 1, 2};
  b.token_ids = {4, 5, 6};
  b.draft.tokens = {99};  // stale: replaced
  SamplingParams sp;
  std::vector<ProposalRequest> requests = {{&a, &sp, 2}, {&b, &sp, 2}};
  KvCacheManager kv(4, 4);
  proposer.Propose(TargetStep{}, absl::MakeSpan(requests), &kv);
  EXPECT_THAT(a.draft.tokens, ElementsAre(3, 1));
  EXPECT_THAT(b.draft.tokens, IsEmpty());
  EXPECT_FALSE(a.draft.is_tree());
}

}  // namespace
}  // namespace inferd::engine
