// tests/unit/sampling/candidate_set_test.cc — top-k / top-p / min-p kept sets
// and the inverse-CDF draw against a naive full-sort reference.
#include "engine/sampling/candidate_set.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sampling/sampling_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::RandomLogits;
using ::testing::ElementsAre;

using Filters = ::inferd::testing::NaiveFilters;
using ::inferd::testing::NaiveKept;

void Apply(CandidateSet* set, const std::vector<float>& logits, const Filters& f) {
  set->Reset(logits.data(), static_cast<int64_t>(logits.size()), f.temperature, f.top_k);
  set->TopP(f.top_p);
  set->MinP(f.min_p);
}

TEST(CandidateSetTest, TopKKeepsLowerIdsAtATiedBoundary) {
  const std::vector<float> logits = {1, 5, 3, 3, 3, 0};
  CandidateSet set;
  Apply(&set, logits, {.top_k = 3});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 2, 3));
  Apply(&set, logits, {.top_k = 1});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1));
  Apply(&set, logits, {.top_k = 100});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 2, 3, 4, 0, 5));
}

TEST(CandidateSetTest, TopPKeepsTheSmallestPrefixReachingP) {
  // Probabilities 0.5, 0.25, 0.125, 0.125.
  const std::vector<float> logits = {std::log(0.125f), std::log(0.5f), std::log(0.25f),
                                     std::log(0.125f)};
  CandidateSet set;
  Apply(&set, logits, {.top_p = 0.5f});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1));
  Apply(&set, logits, {.top_p = 0.6f});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 2));
  Apply(&set, logits, {.top_p = 0.8f});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 2, 0));  // tie at 0.125: lower id first
  Apply(&set, logits, {.top_p = 1e-9f});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1));  // always at least one
}

TEST(CandidateSetTest, MinPIsRelativeToTheBest) {
  const std::vector<float> logits = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  CandidateSet set;
  Apply(&set, logits, {.min_p = 0.4f});  // cut at 0.24
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 2));
  Apply(&set, logits, {.min_p = 0.9f});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1));
  Apply(&set, logits, {.min_p = 2.0f});  // nothing reaches it: the best stays
  EXPECT_THAT(set.KeptIds(), ElementsAre(1));
}

TEST(CandidateSetTest, NegativeInfinityIsNeverACandidate) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {-inf, 2, -inf, 1};
  CandidateSet set;
  Apply(&set, logits, {.top_k = 10});
  EXPECT_THAT(set.KeptIds(), ElementsAre(1, 3));
  for (double u : {0.0, 0.5, 0.999999}) {
    Apply(&set, logits, {});
    const int32_t id = set.Draw(u);
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
}

// Every filter combination on random logits (with and without ties) against
// the reference, and draws at random u against a naive inverse CDF.
TEST(CandidateSetTest, FiltersAndDrawMatchNaiveReference) {
  const std::vector<int64_t> vocabs = {1, 2, 7, 100, 1000, 5000};
  const std::vector<Filters> grid = [] {
    std::vector<Filters> g;
    for (float t : {0.3f, 1.0f, 2.0f}) {
      for (int64_t k : {0, 1, 5, 64, 200, 100000}) {
        for (float p : {1.0f, 0.95f, 0.5f, 0.01f}) {
          for (float m : {0.0f, 0.01f, 0.3f}) g.push_back({t, k, p, m});
        }
      }
    }
    return g;
  }();
  Rng urng(99);
  CandidateSet set;
  int checked = 0;
  for (int64_t vocab : vocabs) {
    for (float quantum : {0.0f, 0.5f}) {
      const std::vector<float> logits = RandomLogits(vocab, 1000 + vocab, 3.0f, quantum);
      for (const Filters& f : grid) {
        SCOPED_TRACE(::testing::Message()
                     << "vocab " << vocab << " quantum " << quantum << " T " << f.temperature
                     << " k " << f.top_k << " p " << f.top_p << " min_p " << f.min_p);
        std::vector<double> w;
        const std::vector<int32_t> expected = NaiveKept(logits, f, &w);
        Apply(&set, logits, f);
        ASSERT_EQ(set.KeptIds(), expected);
        double total = 0;
        for (int32_t id : expected) total += w[id];
        for (int draw = 0; draw < 6; ++draw) {
          // Near the extremes (not within rounding of them), then random points.
          const double u = draw == 0 ? 0.0 : draw == 1 ? 1.0 - 1e-9 : urng.Uniform();
          int32_t want = expected.back();
          double cum = 0;
          for (int32_t id : expected) {
            cum += w[id];
            if (cum > u * total) {
              want = id;
              break;
            }
          }
          Apply(&set, logits, f);  // a fresh, lazily sorted set
          ASSERT_EQ(set.Draw(u), want) << "u " << u;
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 6 * 2 * 216);
}

}  // namespace
}  // namespace inferd::engine
