// tests/unit/spec_decode/spec_policy_test.cc — the adaptive policy measures
// both arms per batch size and drafts only where drafting is faster, so a
// loaded server is not slowed down; exploration backs off.
#include "engine/spec_decode/spec_policy.h"

#include <random>
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
  double mean_noise = 1;  // the average factor on a cycle's time
};

// Wall-clock noise of a shared machine: each cycle's time is off by a
// log-normal factor, and now and then the OS stalls one for several times
// its length.
struct Noise {
  double sigma = 0;
  double stall_probability = 0;
  double stall_factor = 1;
  uint32_t seed = 1;
};

Outcome Drive(SpeculationPolicy& p, int64_t batch, double on_rate, double off_rate, int cycles,
              const Noise& noise = {}) {
  std::mt19937 rng(noise.seed);
  std::lognormal_distribution<double> jitter(0.0, noise.sigma);
  std::bernoulli_distribution stall(noise.stall_probability);
  bool verifying = false;  // the previous cycle drafted
  int drafted_cycles = 0;
  double tokens = 0, seconds = 0, noise_sum = 0;
  const std::vector<double> acceptance(batch, 0.6);
  for (int c = 0; c < cycles; ++c) {
    const int32_t k = p.DraftLength(batch, acceptance);
    const bool drafting = k > 0;
    // A cycle's speed follows what it verified (drafts from the cycle before).
    const double rate = verifying ? on_rate : off_rate;
    const double generated = verifying ? 2.0 * batch : 1.0 * batch;
    double factor = 1;
    if (noise.sigma > 0) factor *= jitter(rng);
    if (noise.stall_probability > 0 && stall(rng)) factor *= noise.stall_factor;
    noise_sum += factor;
    const double secs = generated / rate * factor;
    p.RecordCycle(secs, static_cast<int64_t>(generated), batch, false, verifying, drafting);
    tokens += generated;
    seconds += secs;
    drafted_cycles += drafting;
    verifying = drafting;
  }
  return {static_cast<double>(drafted_cycles) / cycles, tokens / seconds, noise_sum / cycles};
}

TEST(SpeculationPolicyTest, AlwaysDraftsTheMaximum) {
  SpeculationPolicy p(SpecPolicy::kAlways, 4);
  EXPECT_EQ(p.DraftLength(64, std::vector<double>(64, 0.1)), 4);
  EXPECT_EQ(p.DraftLength(64, {}), 0);
}

TEST(SpeculationPolicyTest, BatchOneDraftsWhileAnythingIsAccepted) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  EXPECT_EQ(p.DraftLength(1, {0.3}), 4);
  EXPECT_EQ(p.DraftLength(1, {0.0}), 0);
  EXPECT_EQ(p.DraftLength(1, {AcceptanceMeter::kMinAcceptance / 2}), 0);
  EXPECT_EQ(p.DraftLength(1, {}), 0);
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

TEST(SpeculationPolicyTest, NoisyTimingsDoNotTipTheChoice) {
  // spec_decode_benchmark's regime at batch 64 on a busy 2-core machine:
  // drafting runs at 0.64x of off (n-gram) or 0.125x (a Medusa tree), each
  // cycle's time is off by +-25% and 2% of cycles stall for 5x. After the
  // benchmark's warm-up round, the policy must keep >= 0.95x (issue 8's
  // bound) of what an "off" server gets under the same noise in every run,
  // and >= 0.97x on average.
  const Noise base{.sigma = 0.25, .stall_probability = 0.02, .stall_factor = 5};
  for (const double on_rate : {640.0, 125.0}) {
    double sum = 0;
    constexpr int kSeeds = 20;
    for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
      SCOPED_TRACE(testing::Message() << "on_rate " << on_rate << " seed " << seed);
      SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
      Noise noise = base;
      noise.seed = seed;
      Drive(p, 64, on_rate, 1000, 128, noise);  // warm-up
      noise.seed += 1000;
      const Outcome o = Drive(p, 64, on_rate, 1000, 600, noise);
      const double ratio = o.throughput / (1000 / o.mean_noise);
      EXPECT_GT(ratio, 0.95);
      sum += ratio;
    }
    EXPECT_GT(sum / kSeeds, 0.97) << "on_rate " << on_rate;
  }
}

TEST(SpeculationPolicyTest, NoisyTimingsStillFindAGain) {
  const Noise base{.sigma = 0.25, .stall_probability = 0.02, .stall_factor = 5};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
    Noise noise = base;
    noise.seed = seed;
    const Outcome o = Drive(p, 16, /*on_rate=*/1500, /*off_rate=*/1000, 1000, noise);
    EXPECT_GT(o.throughput, 1.35 * 1000 / o.mean_noise);
  }
}

TEST(SpeculationPolicyTest, ProbesTheLoserRarelyWhenTheGapIsLarge) {
  // A loser 8x slower per token, with cycles 16x as long: probing it every
  // 64 cycles would cost ~20%; the interval grows to keep it near 1%.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 64, 125, 1000, 128);
  const Outcome o = Drive(p, 64, 125, 1000, 8192);
  EXPECT_LT(o.drafted_fraction, 0.003);
  EXPECT_GT(o.throughput, 0.97 * 1000);
}

TEST(SpeculationPolicyTest, TheIntervalDoublesWhileACheapLoserKeepsLosing) {
  // Drafting at 0.89x of off, cycles of equal length: a clear loss, but a
  // probe costs so little that the budget alone would allow one every 64
  // cycles. The interval still doubles up to kMaxProbeInterval.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  const std::vector<double> acceptance(64, 0.6);
  bool verifying = false;
  int drafted = 0;
  for (int c = 0; c < 10000; ++c) {
    const bool drafting = p.DraftLength(64, acceptance) > 0;
    const double rate = verifying ? 890 : 1000;
    p.RecordCycle(64 / rate, 64, 64, false, verifying, drafting);
    drafted += drafting;
    verifying = drafting;
  }
  // 64, 128, ..., 4096: 7 probes of 4 cycles, plus the first measurement.
  EXPECT_LT(drafted, 50) << drafted;
}

TEST(SpeculationPolicyTest, AProbeWithNothingToDraftKeepsTheWinner) {
  // Drafting loses; then the proposer has nothing to draft (MTP sequences
  // that lapsed while the policy said no), so "on" probes measure nothing.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 64, 500, 1000, 300);
  const std::vector<double> acceptance(64, 0.6);
  int asked = 0;
  for (int c = 0; c < 1000; ++c) {
    asked += p.DraftLength(64, acceptance) > 0;
    p.RecordCycle(64.0 / 1000, 64, 64, false, false, false);  // a plain step
  }
  // Inconclusive probes are retried every kFirstProbeInterval cycles,
  // and the winner stands.
  EXPECT_LE(asked, 1000 / SpeculationPolicy::kFirstProbeInterval * SpeculationPolicy::kProbeCycles +
                       SpeculationPolicy::kProbeCycles);
  EXPECT_GT(asked, 0);
  EXPECT_DOUBLE_EQ(p.OffRate(64), 1000);
  const Outcome o = Drive(p, 64, 500, 1000, 1000);
  EXPECT_LT(o.drafted_fraction, 0.02);
}

TEST(SpeculationPolicyTest, BatchSizesAreMeasuredApart) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 4, 2000, 1000, 500);  // small batches gain
  Drive(p, 64, 500, 1000, 500);  // large ones lose
  EXPECT_EQ(p.DraftLength(4, std::vector<double>(4, 0.6)), 4);
  EXPECT_EQ(p.DraftLength(64, std::vector<double>(64, 0.6)), 0);
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
