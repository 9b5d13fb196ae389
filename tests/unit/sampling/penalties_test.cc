// tests/unit/sampling/penalties_test.cc — repetition / presence / frequency
// penalties: exact values and the history they read.
#include "engine/sampling/penalties.h"

#include <vector>

#include "engine/sampling/sampler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sampling/sampling_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::RandomLogits;
using ::testing::ElementsAre;

TEST(PenaltiesTest, RepetitionPenaltyExactValues) {
  SamplingParams p;
  p.repetition_penalty = 1.5f;
  SamplingState state =
      Sampler::NewState(p, 1, {0, 1, 2, 2, 99, -4}, 5);  // ids out of range ignored
  EXPECT_THAT(state.seen, ElementsAre(1, 1, 1, 0, 0));
  std::vector<float> logits = {3.0f, -3.0f, 0.0f, 2.0f, -1.0f};
  ApplyPenalties(logits.data(), 5, p, state);
  EXPECT_THAT(logits, ElementsAre(3.0f / 1.5f, -3.0f * 1.5f, 0.0f, 2.0f, -1.0f));
}

TEST(PenaltiesTest, PresenceAndFrequencyExactValues) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  SamplingState state = Sampler::NewState(p, 1, {0, 1}, 4);  // prompt does not count
  EXPECT_TRUE(state.seen.empty());
  RecordToken(1, 4, p, &state);
  RecordToken(3, 4, p, &state);
  RecordToken(3, 4, p, &state);
  RecordToken(3, 4, p, &state);
  EXPECT_THAT(state.output_counts, ElementsAre(0, 1, 0, 3));
  std::vector<float> logits = {1.0f, 1.0f, -2.0f, 0.3f};
  ApplyPenalties(logits.data(), 4, p, state);
  EXPECT_THAT(logits,
              ElementsAre(1.0f, 1.0f - (0.25f * 1 + 0.5f), -2.0f, 0.3f - (0.25f * 3 + 0.5f)));
}

TEST(PenaltiesTest, AllPenaltiesTogetherInOrder) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 1.0f;
  p.frequency_penalty = 0.5f;
  SamplingState state = Sampler::NewState(p, 1, {2}, 3);
  RecordToken(0, 3, p, &state);
  RecordToken(0, 3, p, &state);
  EXPECT_THAT(state.seen, ElementsAre(1, 0, 1));
  std::vector<float> logits = {4.0f, 4.0f, -1.0f};
  ApplyPenalties(logits.data(), 3, p, state);
  // Token 0: 4 / 2 = 2, then - (0.5 * 2 + 1) = 0. Token 2: -1 * 2 = -2.
  EXPECT_THAT(logits, ElementsAre(0.0f, 4.0f, -2.0f));
}

TEST(PenaltiesTest, NoPenaltiesNoCountArrays) {
  SamplingParams p;
  SamplingState state = Sampler::NewState(p, 1, {0, 1, 2}, 1000);
  std::vector<float> logits = RandomLogits(1000, 1);
  Sampler::Sample(logits.data(), 1000, p, &state, nullptr);
  EXPECT_TRUE(state.seen.empty());
  EXPECT_TRUE(state.output_counts.empty());
}

}  // namespace
}  // namespace inferd::engine
