// engine/spec_decode/spec_policy.cc
#include "engine/spec_decode/spec_policy.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace inferd::engine {
namespace {

// Median of the first n values.
template <size_t N>
double Median(std::array<double, N> values, int64_t n) {
  n = std::min<int64_t>(n, N);
  if (n == 0) return 0;
  auto mid = values.begin() + n / 2;
  std::nth_element(values.begin(), mid, values.begin() + n);
  if (n % 2 == 1) return *mid;
  const double upper = *mid;
  const double lower = *std::max_element(values.begin(), mid);
  return 0.5 * (lower + upper);
}

}  // namespace

void SpeculationPolicy::Arm::Record(double rate, double secs) {
  rates[samples % kWindow] = rate;
  seconds[samples % kWindow] = secs;
  ++samples;
}

double SpeculationPolicy::Arm::Rate() const { return Median(rates, samples); }
double SpeculationPolicy::Arm::CycleSeconds() const { return Median(seconds, samples); }

SpeculationPolicy::SpeculationPolicy(SpecPolicy policy, int32_t max_k, double margin)
    : policy_(policy), max_k_(max_k), margin_(margin) {}

int SpeculationPolicy::BucketOf(int64_t batch) {
  const int b = std::bit_width(static_cast<uint64_t>(std::max<int64_t>(batch, 1))) - 1;
  return std::min(b, kBuckets - 1);
}

void SpeculationPolicy::RecordCycle(double seconds, int64_t generated, int64_t batch,
                                    bool had_prefill, bool verified, bool drafted) {
  if (had_prefill || batch <= 0 || generated <= 0 || seconds <= 0) return;
  Bucket& b = buckets_[BucketOf(batch)];
  const double rate = static_cast<double>(generated) / seconds;
  if (verified != drafted) {
    // Switching arms: neither arm's speed, but part of what a probe costs
    // (a draft model catching up on every context, say).
    (drafted ? b.switch_on : b.switch_off).Record(rate, seconds);
    return;
  }
  (verified ? b.on : b.off).Record(rate, seconds);
}

bool SpeculationPolicy::OnWins(const Bucket& b) const {
  return b.on.Rate() > b.off.Rate() * (1.0 + margin_);
}

bool SpeculationPolicy::TooCloseToCall(const Bucket& b) const {
  const double w = b.winner().Rate();
  return w <= 0 || b.winner().CycleSeconds() <= 0 || b.loser().Rate() * (1.0 + 2.0 * margin_) >= w;
}

int32_t SpeculationPolicy::AffordableInterval(const Bucket& b) const {
  const double w = b.winner().Rate(), l = b.loser().Rate();
  const double tw = b.winner().CycleSeconds(), tl = b.loser().CycleSeconds();
  // A probe runs kProbeCycles loser cycles of tl seconds each, losing the
  // fraction (1 - l/w) of their output; spread over `interval` winner
  // cycles of tw seconds, that must stay within the budget.
  // The two switches add what they take beyond a winner cycle.
  const double switches = std::max(0.0, b.switch_on.CycleSeconds() - tw) +
                          std::max(0.0, b.switch_off.CycleSeconds() - tw);
  const double lost_cycles = kProbeCycles * (tl / tw) * std::max(0.0, 1.0 - l / w) + switches / tw;
  const double interval = std::ceil(lost_cycles / kExplorationBudget);
  return static_cast<int32_t>(std::clamp<double>(interval, kFirstProbeInterval, kMaxProbeInterval));
}

int32_t SpeculationPolicy::DraftLength(int64_t batch, absl::Span<const double> acceptance) {
  if (acceptance.empty() || max_k_ <= 0) return 0;
  if (policy_ == SpecPolicy::kAlways) return max_k_;
  double best_acceptance = 0;
  for (double a : acceptance) best_acceptance = std::max(best_acceptance, a);
  if (best_acceptance < AcceptanceMeter::kMinAcceptance) return 0;
  if (batch <= 1) return max_k_;
  Bucket& b = buckets_[BucketOf(batch)];
  auto draft_if = [&](bool draft) { return draft ? max_k_ : 0; };
  if (!b.decided) {
    if (b.off.samples < kMinSamples) return 0;
    if (b.on.samples < kMinSamples) return max_k_;
    b.decided = true;
    b.drafting = OnWins(b);
    b.probe_interval = TooCloseToCall(b) ? kFirstProbeInterval : AffordableInterval(b);
  }
  if (b.probe_left > 0) {
    if (--b.probe_left > 0) return draft_if(!b.drafting);
    // The probe's last cycle: decide on its fresh estimate of the loser.
    b.since_probe = 0;
    if (b.loser().samples < 2) {
      // Inconclusive (its cycles had prompt tokens, or the proposer had
      // nothing to draft): keep the winner, look again soon.
      b.probe_interval = kFirstProbeInterval;
      return draft_if(b.drafting);
    }
    const bool was_drafting = b.drafting;
    b.drafting = OnWins(b);
    if (b.drafting != was_drafting) {
      // A switch rests on a few cycles of each arm, which a burst of stalls
      // may have hit; confirm it soon.
      b.probe_interval = kConfirmInterval;
    } else if (TooCloseToCall(b)) {
      b.probe_interval = kFirstProbeInterval;
    } else {
      b.probe_interval =
          std::max(std::min(kMaxProbeInterval, 2 * b.probe_interval), AffordableInterval(b));
    }
    return draft_if(b.drafting);
  }
  if (++b.since_probe >= b.probe_interval) {
    // Probe: measure the loser afresh, next to the winner's latest cycles.
    // (since_probe restarts when the probe ends.)
    b.loser().samples = 0;
    b.probe_left = kProbeCycles;
    return draft_if(!b.drafting);
  }
  return draft_if(b.drafting);
}

}  // namespace inferd::engine
