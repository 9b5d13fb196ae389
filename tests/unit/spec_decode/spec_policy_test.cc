// tests/unit/spec_decode/spec_policy_test.cc — the adaptive policy measures
// "off" and each candidate draft length per batch size (batch 1 included),
// drafts only where and as far as drafting is faster, so neither a loaded
// server nor a single user is slowed down; exploration backs off.
#include "engine/spec_decode/spec_policy.h"

#include <functional>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// Drives `cycles` engine cycles at `batch` through the policy with a fake
// server whose throughput is `rate(k)` tokens/s for a cycle that verified
// drafts of length k (0: a plain step); returns the fraction of cycles that
// drafted and the average throughput achieved.
struct Outcome {
  double drafted_fraction = 0;
  double throughput = 0;
  double mean_noise = 1;                    // the average factor on a cycle's time
  std::map<int32_t, int> cycles_by_length;  // cycles that drafted each length (0: none)
};

// Wall-clock noise of a shared machine: each cycle's time is off by a
// log-normal factor, and now and then the OS stalls one for several times
// its length.
struct Noise {
  double sigma = 0;
  double stall_probability = 0;
  double stall_factor = 1;
  // Stalls that come with drafting: a cycle that verifies a draft starts,
  // with this probability, a burst of `burst_cycles` such cycles each
  // `burst_factor` times as long (`bursts_everywhere`: plain steps too, a
  // busy machine).
  double burst_probability = 0;
  int burst_cycles = 0;
  double burst_factor = 1;
  bool bursts_everywhere = false;
  uint32_t seed = 1;
};

using Speeds = std::function<double(int32_t k)>;

// Every draft length at `on_rate`, plain steps at `off_rate`.
Speeds OnOff(double on_rate, double off_rate) {
  return [=](int32_t k) { return k > 0 ? on_rate : off_rate; };
}

Outcome Drive(SpeculationPolicy& p, int64_t batch, const Speeds& rate, int cycles,
              const Noise& noise = {}) {
  std::mt19937 rng(noise.seed);
  std::lognormal_distribution<double> jitter(0.0, noise.sigma);
  std::bernoulli_distribution stall(noise.stall_probability);
  std::bernoulli_distribution burst(noise.burst_probability);
  int burst_left = 0;
  int32_t verifying = 0;  // the draft length the previous cycle drafted
  Outcome o;
  double tokens = 0, seconds = 0, noise_sum = 0;
  const std::vector<double> acceptance(batch, 0.6);
  for (int c = 0; c < cycles; ++c) {
    const int32_t k = p.DraftLength(batch, acceptance);
    // A cycle's speed follows what it verified (drafts from the cycle before).
    const double generated = verifying > 0 ? 2.0 * batch : 1.0 * batch;
    double factor = 1;
    if (noise.sigma > 0) factor *= jitter(rng);
    if (noise.stall_probability > 0 && stall(rng)) factor *= noise.stall_factor;
    noise_sum += factor;
    if (verifying == 0 && !noise.bursts_everywhere) {
      burst_left = 0;  // a plain step needs no second thread
    } else if (burst_left == 0 && noise.burst_probability > 0 && burst(rng)) {
      burst_left = noise.burst_cycles;
    }
    if (burst_left > 0) {
      factor *= noise.burst_factor;
      --burst_left;
    }
    const double secs = generated / rate(verifying) * factor;
    p.RecordCycle(secs, static_cast<int64_t>(generated), batch, false, verifying, k);
    tokens += generated;
    seconds += secs;
    ++o.cycles_by_length[k];
    verifying = k;
  }
  o.drafted_fraction = 1.0 - static_cast<double>(o.cycles_by_length[0]) / cycles;
  o.throughput = tokens / seconds;
  o.mean_noise = noise_sum / cycles;
  return o;
}
Outcome Drive(SpeculationPolicy& p, int64_t batch, double on_rate, double off_rate, int cycles,
              const Noise& noise = {}) {
  return Drive(p, batch, OnOff(on_rate, off_rate), cycles, noise);
}

TEST(SpeculationPolicyTest, AlwaysDraftsTheMaximum) {
  SpeculationPolicy p(SpecPolicy::kAlways, 4);
  EXPECT_EQ(p.DraftLength(64, std::vector<double>(64, 0.1)), 4);
  EXPECT_EQ(p.DraftLength(64, {}), 0);
}

TEST(SpeculationPolicyTest, CandidateLengthsAreOneTwoAndTheMaximum) {
  auto lengths = [](int32_t max_k) {
    SpeculationPolicy p(SpecPolicy::kAdaptive, max_k);
    const absl::Span<const int32_t> l = p.candidate_lengths();
    return std::vector<int32_t>(l.begin(), l.end());
  };
  EXPECT_EQ(lengths(4), (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(lengths(8), (std::vector<int32_t>{1, 2, 8}));
  EXPECT_EQ(lengths(3), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(lengths(2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(lengths(1), (std::vector<int32_t>{1}));
  EXPECT_EQ(lengths(0), (std::vector<int32_t>{}));
}

TEST(SpeculationPolicyTest, BatchOneIsMeasuredLikeAnyBatch) {
  // No shortcut at batch 1: off is measured first, then each length ...
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  EXPECT_EQ(p.DraftLength(1, {0.3}), 0);
  EXPECT_EQ(p.DraftLength(1, {0.0}), 0);
  EXPECT_EQ(p.DraftLength(1, {AcceptanceMeter::kMinAcceptance / 2}), 0);
  EXPECT_EQ(p.DraftLength(1, {}), 0);
  // ... and drafting stops where it loses, stays where it wins.
  Drive(p, 1, /*on_rate=*/500, /*off_rate=*/1000, 300);
  EXPECT_GT(p.OffRate(1), p.Rate(1, 4));
  EXPECT_EQ(p.DraftLength(1, {0.6}), 0);
  SpeculationPolicy q(SpecPolicy::kAdaptive, 4);
  const Outcome o = Drive(q, 1, /*on_rate=*/2000, /*off_rate=*/1000, 300);
  EXPECT_GT(o.drafted_fraction, 0.9);
  EXPECT_GT(q.DraftLength(1, {0.6}), 0);
}

TEST(SpeculationPolicyTest, ChoosesTheDraftLengthThatPays) {
  // A chain of 4 loses (verifying it costs more than it gains), 2 wins most,
  // 1 wins a little: the policy settles on 2.
  const Speeds rate = [](int32_t k) {
    switch (k) {
      case 0:
        return 1000.0;
      case 1:
        return 1200.0;
      case 2:
        return 1500.0;
      default:
        return 700.0;
    }
  };
  for (const int64_t batch : {1, 16}) {
    SCOPED_TRACE(testing::Message() << "batch " << batch);
    SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
    Drive(p, batch, rate, 128);
    const Outcome o = Drive(p, batch, rate, 2000);
    EXPECT_GT(o.cycles_by_length.at(2), 0.95 * 2000);
    EXPECT_GT(o.throughput, 0.97 * 1500);
  }
}

TEST(SpeculationPolicyTest, AShortDraftThatPaysIsFoundUnderNoise) {
  // Batch 1: the full draft at 0.67x of off, a chain of 1 at 1.5x; timings
  // as noisy as NoisyTimingsDoNotTipTheChoice's. The policy reaches >= 1.35x
  // of off, as where every length pays (BatchOneUnderNoise).
  const Speeds rate = [](int32_t k) { return k == 0 ? 1000.0 : k == 1 ? 1500.0 : 670.0; };
  const Noise base{.sigma = 0.25, .stall_probability = 0.02, .stall_factor = 5};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
    Noise noise = base;
    noise.seed = seed;
    Drive(p, 1, rate, 128, noise);  // warm-up
    noise.seed += 1000;
    const Outcome o = Drive(p, 1, rate, 2000, noise);
    EXPECT_GT(o.throughput, 1.35 * 1000 / o.mean_noise);
  }
}

TEST(SpeculationPolicyTest, DraftsWhereDraftingIsFaster) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  const Outcome o = Drive(p, 8, /*on_rate=*/2000, /*off_rate=*/1000, 2000);
  EXPECT_GT(o.drafted_fraction, 0.95);
  EXPECT_GT(o.throughput, 0.95 * 2000);
  EXPECT_GT(p.Rate(8, 4), p.OffRate(8));
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

TEST(SpeculationPolicyTest, BatchOneUnderNoise) {
  // spec_decode_benchmark's batch-1 regime (issue 21): drafting at 0.17x of
  // off (a Medusa tree), 0.67x (a draft model) and 1.5x (where drafting
  // pays), every length alike, under the noise of NoisyTimingsDoNotTipTheChoice.
  // After a warm-up, where drafting loses the policy keeps >= 0.95x of what
  // an "off" server gets in every run; where it pays it reaches >= 1.35x.
  const Noise base{.sigma = 0.25, .stall_probability = 0.02, .stall_factor = 5};
  for (const double on_rate : {170.0, 670.0, 1500.0}) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(testing::Message() << "on_rate " << on_rate << " seed " << seed);
      SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
      Noise noise = base;
      noise.seed = seed;
      Drive(p, 1, on_rate, 1000, 128, noise);  // warm-up
      noise.seed += 1000;
      const Outcome o = Drive(p, 1, on_rate, 1000, 2000, noise);
      const double ratio = o.throughput / (1000 / o.mean_noise);
      EXPECT_GT(ratio, on_rate > 1000 ? 1.35 : 0.95);
    }
  }
}

TEST(SpeculationPolicyTest, StallsThatComeWithDraftingCountAgainstIt) {
  // Batch 1 on a busy shared machine: a drafting cycle is typically 1.2x
  // as productive as a plain one, but one in ~40 starts a burst of 5 cycles
  // at 4x their length (the step waits for a second thread another process
  // holds), so drafting delivers ~0.9x of off. Probes of 3 cycles rarely
  // see a burst; the policy must still end up off.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
    const Noise noise{
        .burst_probability = 1.0 / 40, .burst_cycles = 5, .burst_factor = 4, .seed = seed};
    Drive(p, 1, 1200, 1000, 128, noise);  // warm-up
    const Outcome o = Drive(p, 1, 1200, 1000, 4000, noise);
    EXPECT_GT(o.throughput, 0.95 * 1000);
  }
}

TEST(SpeculationPolicyTest, ABusyMachineDoesNotFavourTheArmsThatAreNotRunning) {
  // Drafting at 0.8x of off; then the machine gets busy and one cycle in
  // ten, drafting or not, stalls for 5x its length. Off's overhead grows to
  // ~1.4 while the lengths' (seen in probes only) does not: that must not
  // make them look faster than off.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
    Drive(p, 16, 800, 1000, 500, {.seed = seed});
    const Noise busy{.burst_probability = 0.1,
                     .burst_cycles = 1,
                     .burst_factor = 5,
                     .bursts_everywhere = true,
                     .seed = seed};
    const Outcome o = Drive(p, 16, 800, 1000, 4000, busy);
    EXPECT_LT(o.drafted_fraction, 0.05);
  }
}

TEST(SpeculationPolicyTest, ProbesTheLoserRarelyWhenTheGapIsLarge) {
  // Losers 8x slower per token, with cycles 16x as long: probing each every
  // 64 cycles would cost ~60%; the intervals grow to keep them near 1%
  // together.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 64, 125, 1000, 128);
  const Outcome o = Drive(p, 64, 125, 1000, 8192);
  EXPECT_LT(o.drafted_fraction, 0.003);
  EXPECT_GT(o.throughput, 0.97 * 1000);
}

TEST(SpeculationPolicyTest, TheIntervalDoublesWhileACheapLoserKeepsLosing) {
  // Drafting at 0.89x of off, cycles of equal length: a clear loss, but a
  // probe costs so little that the budget alone would allow one every 64
  // cycles. Each length's interval still doubles up to kMaxProbeInterval.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  const std::vector<double> acceptance(64, 0.6);
  int32_t verifying = 0;
  int drafted = 0;
  for (int c = 0; c < 10000; ++c) {
    const int32_t k = p.DraftLength(64, acceptance);
    const double rate = verifying > 0 ? 890 : 1000;
    p.RecordCycle(64 / rate, 64, 64, false, verifying, k);
    drafted += k > 0;
    verifying = k;
  }
  // Per length: 64, 128, ..., 4096: 7 probes of 4 cycles, plus its first
  // measurement (4 cycles): 32; at an interval stuck at 64 it would be ~600.
  const int lengths = static_cast<int>(p.candidate_lengths().size());
  EXPECT_LT(drafted, 40 * lengths) << drafted;
}

TEST(SpeculationPolicyTest, AProbeWithNothingToDraftKeepsTheWinner) {
  // Drafting loses; then the proposer has nothing to draft (MTP sequences
  // that lapsed while the policy said no), so a probe's cycles are plain
  // steps under a decision to draft: the probed length measures as fast as
  // off, which is not the margin it must win by.
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 64, 500, 1000, 300);
  const std::vector<double> acceptance(64, 0.6);
  const int lengths = static_cast<int>(p.candidate_lengths().size());
  int32_t decided = 0;
  int asked = 0;
  constexpr int kCycles = 3 * SpeculationPolicy::kMaxProbeInterval;
  for (int c = 0; c < kCycles; ++c) {
    const int32_t k = p.DraftLength(64, acceptance);
    asked += k > 0;
    p.RecordCycle(64.0 / 1000, 64, 64, false, decided, k);  // a plain step
    decided = k;
  }
  // The lengths are probed again (at the intervals the measured gap
  // affords, then, too close to call, every kFirstProbeInterval cycles at
  // most), and the winner stands.
  EXPECT_GT(asked, 0);
  EXPECT_LE(asked, lengths * (kCycles / SpeculationPolicy::kFirstProbeInterval + 1) *
                       SpeculationPolicy::kProbeCycles);
  EXPECT_DOUBLE_EQ(p.OffRate(64), 1000);
  // Drafts again, at half the speed: the next probes find out.
  const Outcome o = Drive(p, 64, 500, 1000, 1000);
  EXPECT_LT(o.drafted_fraction, 0.02);
}

TEST(SpeculationPolicyTest, BatchSizesAreMeasuredApart) {
  SpeculationPolicy p(SpecPolicy::kAdaptive, 4);
  Drive(p, 4, 2000, 1000, 500);  // small batches gain
  Drive(p, 64, 500, 1000, 500);  // large ones lose
  EXPECT_GT(p.DraftLength(4, std::vector<double>(4, 0.6)), 0);
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
  p.RecordCycle(1.0, 100, 8, /*had_prefill=*/true, 0, 0);
  p.RecordCycle(1.0, 100, 8, false, /*verified_k=*/4, /*drafted_k=*/0);
  p.RecordCycle(1.0, 100, 8, false, /*verified_k=*/2, /*drafted_k=*/4);
  p.RecordCycle(1.0, 100, 8, false, SpeculationPolicy::kNotAnArm, SpeculationPolicy::kNotAnArm);
  p.RecordCycle(1.0, 100, 8, false, 3, 3);  // not a candidate length
  EXPECT_EQ(p.OffRate(8), 0);
  for (int32_t k : p.candidate_lengths()) EXPECT_EQ(p.Rate(8, k), 0) << k;
  p.RecordCycle(2.0, 100, 8, false, 0, 0);
  EXPECT_DOUBLE_EQ(p.OffRate(8), 50);
  p.RecordCycle(4.0, 100, 8, false, 2, 2);
  EXPECT_DOUBLE_EQ(p.Rate(8, 2), 25);
  EXPECT_EQ(p.Rate(8, 4), 0);
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
