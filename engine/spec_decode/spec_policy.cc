// engine/spec_decode/spec_policy.cc
#include "engine/spec_decode/spec_policy.h"

#include <algorithm>
#include <bit>

namespace inferd::engine {

SpeculationPolicy::SpeculationPolicy(SpecPolicy policy, int32_t max_k, double margin)
    : policy_(policy), max_k_(max_k), margin_(margin) {}

int SpeculationPolicy::BucketOf(int64_t batch) {
  const int b = std::bit_width(static_cast<uint64_t>(std::max<int64_t>(batch, 1))) - 1;
  return std::min(b, kBuckets - 1);
}

void SpeculationPolicy::RecordCycle(double seconds, int64_t generated, int64_t batch,
                                    bool had_prefill, bool verified, bool drafted) {
  if (had_prefill || batch <= 0 || generated <= 0 || seconds <= 0) return;
  if (verified != drafted) return;  // switching arms: neither
  Bucket& b = buckets_[BucketOf(batch)];
  (verified ? b.on : b.off).Record(static_cast<double>(generated) / seconds);
}

int32_t SpeculationPolicy::DraftLength(absl::Span<const double> acceptance) {
  if (acceptance.empty() || max_k_ <= 0) return 0;
  if (policy_ == SpecPolicy::kAlways) return max_k_;
  double best_acceptance = 0;
  for (double a : acceptance) best_acceptance = std::max(best_acceptance, a);
  if (best_acceptance < AcceptanceMeter::kMinAcceptance) return 0;
  const int64_t batch = static_cast<int64_t>(acceptance.size());
  if (batch == 1) return max_k_;
  Bucket& b = buckets_[BucketOf(batch)];
  if (b.off.samples < 3) return 0;
  if (b.on.samples < 3) return max_k_;
  const bool on_wins = b.on.rate > b.off.rate * (1.0 + margin_);
  if (b.probe_left > 0) {
    --b.probe_left;
    return b.probing_on ? max_k_ : 0;
  }
  if (++b.since_probe >= b.probe_interval) {
    // Probe the losing arm; a probe that finds it still losing (the winner
    // unchanged since the last probe) doubles the interval.
    b.since_probe = 0;
    if (b.probing_on == !on_wins) {
      b.probe_interval = std::min(kMaxProbeInterval, 2 * b.probe_interval);
    } else {
      b.probe_interval = kFirstProbeInterval;
    }
    b.probing_on = !on_wins;
    b.probe_left = 1;
    return b.probing_on ? max_k_ : 0;
  }
  return on_wins ? max_k_ : 0;
}

}  // namespace inferd::engine
