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
  // Against the median of the arm's run so far (up to kHistory cycles, a
  // burst of stalls does not move it); one cycle the OS stalled for
  // milliseconds counts as a few typical ones.
  if (samples >= kMinHistory) {
    const double ratio = std::min(secs / Median(history, samples), kMaxOverheadRatio);
    overhead += kOverheadWeight * (ratio - overhead);
  }
  rates[samples % kWindow] = rate;
  seconds[samples % kWindow] = secs;
  history[samples % kHistory] = secs;
  ++samples;
}

double SpeculationPolicy::Arm::MedianRate() const { return Median(rates, samples); }
double SpeculationPolicy::Arm::MedianSeconds() const { return Median(seconds, samples); }

double SpeculationPolicy::StallPenalty(const Bucket& b, int a) const {
  // Stalls that hit every arm alike (another process on the machine) are
  // no reason to prefer one, and an arm's overhead dates from when it last
  // ran long: only a draft length's overhead beyond "off"'s counts, and
  // only against it. When the machine is busier than when "off" last ran,
  // this leans towards "off", never away from it.
  if (a == 0) return 1.0;
  return std::max(1.0, b.arms[a].overhead / b.arms[0].overhead);
}

double SpeculationPolicy::Rate(const Bucket& b, int a) const {
  return b.arms[a].MedianRate() / StallPenalty(b, a);
}

double SpeculationPolicy::CycleSeconds(const Bucket& b, int a) const {
  return b.arms[a].MedianSeconds() * StallPenalty(b, a);
}

SpeculationPolicy::SpeculationPolicy(SpecPolicy policy, int32_t max_k, double margin)
    : policy_(policy), max_k_(max_k), margin_(margin) {
  lengths_[0] = 0;
  for (const int32_t k : {1, 2, max_k}) {
    if (k <= max_k && k > lengths_[num_arms_ - 1]) lengths_[num_arms_++] = k;
  }
}

int SpeculationPolicy::BucketOf(int64_t batch) {
  const int b = std::bit_width(static_cast<uint64_t>(std::max<int64_t>(batch, 1))) - 1;
  return std::min(b, kBuckets - 1);
}

int SpeculationPolicy::ArmOf(int32_t k) const {
  for (int a = 0; a < num_arms_; ++a) {
    if (lengths_[a] == k) return a;
  }
  return -1;
}

double SpeculationPolicy::Rate(int64_t batch, int32_t k) const {
  const int a = ArmOf(k);
  return a < 0 ? 0 : Rate(buckets_[BucketOf(batch)], a);
}

void SpeculationPolicy::RecordCycle(double seconds, int64_t generated, int64_t batch,
                                    bool had_prefill, int32_t verified_k, int32_t drafted_k) {
  if (had_prefill || batch <= 0 || generated <= 0 || seconds <= 0) return;
  const int from = ArmOf(verified_k), to = ArmOf(drafted_k);
  if (from < 0 || to < 0) return;
  Bucket& b = buckets_[BucketOf(batch)];
  const double rate = static_cast<double>(generated) / seconds;
  if (from != to) {
    // Switching arms: neither arm's speed, but part of what a probe costs
    // (a draft model catching up on every context, say).
    b.switches[from][to].Record(rate, seconds);
  } else {
    b.arms[from].Record(rate, seconds);
  }
}

double SpeculationPolicy::SwitchLoss(const Bucket& b, int from, int to) const {
  // Its time, less what the winner would have taken for its tokens; the
  // dearest of the last few, since what a switch costs grows with the time
  // since the last one (a draft model catches up on every token it missed).
  const double w = Rate(b, b.winner);
  auto loss = [w](const Arm& s) {
    double dearest = 0;
    for (int64_t i = 0; i < std::min<int64_t>(s.samples, Arm::kWindow); ++i) {
      dearest = std::max(dearest, s.seconds[i] * std::max(0.0, 1.0 - s.rates[i] / w));
    }
    return dearest;
  };
  if (b.switches[from][to].samples > 0) return loss(b.switches[from][to]);
  // Not measured yet: the dearest measured switch into `to` or out of `from`.
  double worst = 0;
  for (int x = 0; x < num_arms_; ++x) {
    worst = std::max(worst, loss(b.switches[x][to]));
    worst = std::max(worst, loss(b.switches[from][x]));
  }
  return worst;
}

void SpeculationPolicy::NoteOffRatio(Bucket& b) const {
  const double off = b.arms[0].MedianRate();
  b.off_ratio = (b.winner == 0 || off <= 0) ? 0 : b.arms[b.winner].MedianRate() / off;
}

bool SpeculationPolicy::Beats(const Bucket& b, int a, int c) const {
  // A draft length must beat "off" by the margin; lengths compete evenly.
  auto score = [&](int arm) {
    const double r = Rate(b, arm);
    return lengths_[arm] > 0 ? r / (1.0 + margin_) : r;
  };
  return score(a) > score(c);
}

int SpeculationPolicy::Best(const Bucket& b) const {
  int best = 0;
  for (int a = 1; a < num_arms_; ++a) {
    if (Beats(b, a, best)) best = a;
  }
  return best;
}

bool SpeculationPolicy::TooCloseToCall(const Bucket& b, int a) const {
  const double w = Rate(b, b.winner);
  return w <= 0 || CycleSeconds(b, b.winner) <= 0 || Rate(b, a) * (1.0 + 2.0 * margin_) >= w;
}

int32_t SpeculationPolicy::AffordableInterval(const Bucket& b, int a, bool switches_only) const {
  const double w = Rate(b, b.winner), l = Rate(b, a);
  const double tw = CycleSeconds(b, b.winner), tl = CycleSeconds(b, a);
  if (w <= 0 || tw <= 0) return kFirstProbeInterval;
  // A probe runs kProbeCycles loser cycles of tl seconds each, losing the
  // fraction (1 - l/w) of their output, and the two switches lose what they
  // take beyond the winner's time for their tokens. Spread over `interval`
  // winner cycles of tw seconds, that must stay within the loser's share of
  // the budget: the losers split it evenly.
  const double switches = SwitchLoss(b, b.winner, a) + SwitchLoss(b, a, b.winner);
  const double probe = switches_only ? 0.0 : kProbeCycles * (tl / tw) * std::max(0.0, 1.0 - l / w);
  const double lost_cycles = probe + switches / tw;
  const int losers = num_arms_ - 1;
  const double interval = std::ceil(lost_cycles * losers / kExplorationBudget);
  // The cap is the bucket's: its losers together are probed at least once
  // per kMaxProbeInterval cycles, however dear a probe is.
  return static_cast<int32_t>(
      std::clamp<double>(interval, kFirstProbeInterval, kMaxProbeInterval * losers));
}

void SpeculationPolicy::SetInterval(Bucket& b, int a, bool doubled) const {
  int32_t& interval = b.probe_interval[a];
  if (TooCloseToCall(b, a)) {
    // Probe again soon, as far as switching to the loser and back allows (a
    // draft model catching up on every context is dear however close) once
    // that is known from more than one or two switches, which a stall may
    // have hit.
    const bool known = b.switches[b.winner][a].samples >= kMinSamples &&
                       b.switches[a][b.winner].samples >= kMinSamples;
    interval = known ? AffordableInterval(b, a, /*switches_only=*/true) : kFirstProbeInterval;
  } else if (doubled) {
    interval = std::max(std::min(kMaxProbeInterval, 2 * interval), AffordableInterval(b, a));
  } else {
    interval = AffordableInterval(b, a);
  }
}

int32_t SpeculationPolicy::DraftLength(int64_t batch, absl::Span<const double> acceptance) {
  if (acceptance.empty() || max_k_ <= 0) return 0;
  if (policy_ == SpecPolicy::kAlways) return max_k_;
  double best_acceptance = 0;
  for (double a : acceptance) best_acceptance = std::max(best_acceptance, a);
  if (best_acceptance < AcceptanceMeter::kMinAcceptance) return 0;
  Bucket& b = buckets_[BucketOf(batch)];
  if (!b.decided) {
    // Measure each arm in turn: off, then the lengths in ascending order.
    for (int a = 0; a < num_arms_; ++a) {
      if (b.arms[a].samples < kMinSamples) return lengths_[a];
    }
    b.decided = true;
    b.winner = Best(b);
    for (int a = 0; a < num_arms_; ++a) {
      if (a == b.winner) continue;
      b.since_probe[a] = 0;
      SetInterval(b, a, /*doubled=*/false);
    }
    // Drafting won on three cycles of each arm, and the fastest of several
    // noisy estimates is biased up: confirm against "off" soon, as after a
    // switch.
    if (b.winner != 0) b.probe_interval[0] = kConfirmInterval;
    b.since_probe_end = 0;
    NoteOffRatio(b);
  }
  if (b.probe_left > 0) {
    if (--b.probe_left > 0) return lengths_[b.probing];
    // The probe's last cycle: decide on its fresh estimate of the loser.
    const int a = b.probing;
    b.probing = -1;
    b.since_probe[a] = 0;
    b.since_probe_end = 0;
    if (b.arms[a].samples < 2) {
      // Inconclusive (its cycles had prompt tokens, or the policy was not
      // asked): keep the winner, look again soon (a recheck of "off" only
      // after the next decision).
      b.probe_interval[a] = kFirstProbeInterval;
      if (a == 0) b.off_ratio = 0;
      return lengths_[b.winner];
    }
    const int old = b.winner;
    if (Beats(b, a, old)) {
      // A switch rests on a few cycles of each arm, which a burst of stalls
      // may have hit; confirm it soon. The other losers are priced against
      // the new winner, but come no later than they would have (a pending
      // confirmation stays pending).
      b.winner = a;
      b.since_probe[old] = 0;
      b.probe_interval[old] = kConfirmInterval;
      for (int o = 0; o < num_arms_; ++o) {
        if (o == a || o == old) continue;
        const int32_t before = b.probe_interval[o];
        SetInterval(b, o, /*doubled=*/false);
        b.probe_interval[o] = std::min(before, b.probe_interval[o]);
      }
    } else {
      SetInterval(b, a, /*doubled=*/true);
    }
    NoteOffRatio(b);
    return lengths_[b.winner];
  }
  // Probe the most overdue loser, if any, once the winner has run a few
  // cycles since the last probe (its estimate is then fresh again).
  ++b.since_probe_end;
  int due = -1;
  for (int a = 0; a < num_arms_; ++a) {
    if (a == b.winner) continue;
    ++b.since_probe[a];
    const int32_t over = b.since_probe[a] - b.probe_interval[a];
    if (over >= 0 && (due < 0 || over > b.since_probe[due] - b.probe_interval[due])) due = a;
  }
  // A drafting winner whose stall penalty has grown well past what jitter
  // and rare stalls give (it stalls once it runs for long) may have lost to
  // "off": look now, however long the interval. The ratio was measured side
  // by side and the penalty is a ratio too, so no stale speed decides.
  if (b.winner != 0 && b.off_ratio > 0 && StallPenalty(b, b.winner) >= kStallPenaltyToRecheck &&
      b.off_ratio / StallPenalty(b, b.winner) <= 1 + margin_) {
    due = 0;
  }
  if (due >= 0 && b.since_probe_end > kProbeCycles) {
    // Measure the loser afresh, next to the winner's latest cycles.
    b.arms[due].samples = 0;
    b.probing = due;
    b.probe_left = kProbeCycles;
    return lengths_[due];
  }
  return lengths_[b.winner];
}

}  // namespace inferd::engine
