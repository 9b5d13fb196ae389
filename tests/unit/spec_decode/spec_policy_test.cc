// tests/unit/spec_decode/spec_policy_test.cc — the adaptive policy measures
// both arms per batch size and drafts only where drafting is faster, so a
// loaded server is not slowed down; exploration backs off.
#include "engine/spec_decode/spec_policy.h"

#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// Drives `cycles` engine cycles at `batch` through the policy with a fake
// server whose throughput is `on_rate` tokens/s when drafting and
// `off_rate` when not; returns the fraction of cycles that drafted and the
// average throughput achieved.
struct Outcome {
  double drafted_fraction = 0;
  double throughput = 0;
};

Outcome Drive(SpeculationPolicy& p, int64_t batch, double on_rate, double off_rate, int cycles) {
  bool verifying = false;  // the previous cycle drafted
  int drafted_cycles = 0;
  double tokens = 0, seconds = 0;
  const std::vector<double> acceptance(batch, 0.6);
  for (int c = 0; c < cycles; ++c) {
    const int32_t k = p.DraftLength(acceptance);
    const bool drafting = k > 0;
    // A cycle's speed follows what it verified (drafts from the cycle before).
    const double rate = verifying ? on_rate : off_rate;
    const double generated = verifying ? 2.0 * batch : 1.0 * batch;
    const double secs = generated / rate;
    p.RecordCycle(secs, static_cast<int64_t>(generated), batch, false, verifying, drafting);
    tokens += generated;
    seconds += secs;
    drafted_cycles += drafting;
    verifying = drafting;
  }
  return {static_cast<double>(drafted_cycles) / cycles, tokens / seconds};
}

TEST(SpeculationPolicyTest, AlwaysDraftsTheMaximum) {
  SpeculationPolicy p(SpecPolicy::kAlways, 4);
  EXPECT_EQ(p.DraftLength(std::vector<double>(64, 0.1)), 4);
  EXPECT_EQ(p.DraftLength({}), 0);
}

TEST(SpeculationPolicyTest, BatchOneDraftsWhileAnythingIsAccepted) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  EXPECT_EQ(p.DraftLength({0.3}), 4);
  EXPECT_EQ(p.DraftLength({0.0}), 0);
  EXPECT_EQ(p.DraftLength({AcceptanceMeter::kMinAcceptance / 2}), 0);
  EXPECT_EQ(p.DraftLength({}), 0);
}

TEST(SpeculationPolicyTest, DraftsWhereDraftingIsFaster) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  const Outcome o = Drive(p, 8, /*on_rate=*/2000, /*off_rate=*/1000, 2000);
  EXPECT_GT(o.drafted_fraction, 0.95);
  EXPECT_GT(o.throughput, 0.95 * 2000);
  EXPECT_GT(p.OnRate(8), p.OffRate(8));
}

TEST(SpeculationPolicyTest, NeverMuchSlowerThanOffWhereDraftingLoses) {
  // Drafting at a fifth of the speed (a tree verified at high batch on a
  // CPU): exploration must not cost more than a few percent.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  const Outcome o = Drive(p, 64, /*on_rate=*/200, /*off_rate=*/1000, 5000);
  EXPECT_LT(o.drafted_fraction, 0.02);
  EXPECT_GT(o.throughput, 0.95 * 1000);
}

TEST(SpeculationPolicyTest, BatchSizesAreMeasuredApart) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 4, 2000, 1000, 500);  // small batches gain
  Drive(p, 64, 500, 1000, 500);  // large ones lose
  EXPECT_EQ(p.DraftLength(std::vector<double>(4, 0.6)), 4);
  EXPECT_EQ(p.DraftLength(std::vector<double>(64, 0.6)), 0);
}

TEST(SpeculationPolicyTest, FollowsAChangeThroughProbes) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 16, 500, 1000, 300);  // drafting loses ...
  // ... then wins: the next probe (its interval grew while drafting lost)
  // finds out, and from then on the policy drafts.
  Drive(p, 16, 3000, 1000, SpeculationPolicy::kMaxProbeInterval);
  const Outcome o = Drive(p, 16, 3000, 1000, 1000);
  EXPECT_GT(o.drafted_fraction, 0.95);
}

TEST(SpeculationPolicyTest, PrefillStepsAndSwitchesAreNotMeasured) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  p.RecordCycle(1.0, 100, 8, /*had_prefill=*/true, false, false);
  p.RecordCycle(1.0, 100, 8, false, /*verified=*/true, /*drafted=*/false);
  EXPECT_EQ(p.OffRate(8), 0);
  EXPECT_EQ(p.OnRate(8), 0);
  p.RecordCycle(2.0, 100, 8, false, false, false);
  EXPECT_DOUBLE_EQ(p.OffRate(8), 50);
}

TEST(AcceptanceMeterTest, TracksTheRecentRate) {
  AcceptanceMeter m;
  m.Record(4, 0);  // one unlucky draft does not end speculation
  EXPECT_GT(m.rate, AcceptanceMeter::kMinAcceptance);
  for (int i = 0; i < 10; ++i) m.Record(4, 4);
  EXPECT_GT(m.rate, 0.9);
  for (int i = 0; i < 30; ++i) m.Record(4, 0);
  EXPECT_LT(m.rate, AcceptanceMeter::kMinAcceptance);
  const double before = m.rate;
  m.Record(0, 0);  // nothing drafted: no information
  EXPECT_EQ(m.rate, before);
}

}  // namespace
}  // namespace inferd::engine
