// engine/spec_decode/spec_policy.h — the server-side speculation policy
// (DESIGN §6): each step, whether and how far to draft.
//
// Whether speculation pays depends on the model, the hardware, the proposer
// and the batch: verifying k extra tokens per sequence is nearly free while
// a step is memory-bound and costs almost k times a plain step once it is
// compute-bound (or, for a tiny model on a CPU, overhead-bound). Rather than
// predict it, the adaptive policy measures it. Per decode batch size (power
// of two buckets) it measures output tokens per second of wall time for
// cycles that verified a draft and drafted the next one ("on") and cycles
// that did neither ("off"); a cycle is a step plus the drafting after it, so
// the proposer's cost is counted. Each arm's estimate is the median of its
// last five cycles, so one cycle that the OS stalled does not decide.
//
// A bucket first measures "off", then "on", and picks the arm that is
// faster ("on" must win by a margin). From then on it only decides at the
// end of a probe: a few cycles of the losing arm, measured afresh and
// compared with the winner's cycles just before them. Only cycles next to
// each other are compared, because a step's cost drifts with the context
// length: the same arm runs twice as fast at the start of a batch of
// streams as at its end, so a stale estimate of one arm against a fresh one
// of the other would decide on the drift. Probes come at an interval that
// doubles (64 to 4096 cycles) while the loser stays the loser, and that is
// never shorter than what keeps the probes' cost under kExplorationBudget
// of throughput given the measured gap and the measured cost of switching
// (a loser eight times slower, or a draft model that must catch up on every
// context before it drafts, is probed rarely). A probe that switches arms is confirmed by another
// soon after. Steps with prompt tokens and the cycles that switch arms are not measured.
//
// At batch 1 the adaptive policy drafts whenever measured acceptance is
// above zero (AcceptanceMeter::kMinAcceptance; the common latency case).
// `always` drafts the maximum for every sequence that allows it.
#ifndef INFERD_ENGINE_SPEC_DECODE_SPEC_POLICY_H_
#define INFERD_ENGINE_SPEC_DECODE_SPEC_POLICY_H_

#include <array>
#include <cstdint>

#include "absl/types/span.h"
#include "engine/spec_decode/spec_config.h"

namespace inferd::engine {

class SpeculationPolicy {
 public:
  SpeculationPolicy(SpecPolicy policy, int32_t max_k, double margin = 0.05);

  // One engine cycle (a step and the drafting after it). `generated`: the
  // output tokens the step produced; `batch`: its decoding sequences;
  // `verified`: it verified drafts; `drafted`: drafts were made after it.
  void RecordCycle(double seconds, int64_t generated, int64_t batch, bool had_prefill,
                   bool verified, bool drafted);

  // Draft length for the next step. `batch`: the sequences that will decode
  // in it, whether they may draft or not (the batch size RecordCycle will
  // see for it, so a decision and its measurement fall in the same bucket);
  // `acceptance`: the measured acceptance rates of the sequences that could
  // draft now. 0: do not draft.
  int32_t DraftLength(int64_t batch, absl::Span<const double> acceptance);

  // The measured rates of a batch size's bucket (tokens/s; 0: unmeasured).
  double OnRate(int64_t batch) const { return buckets_[BucketOf(batch)].on.Rate(); }
  double OffRate(int64_t batch) const { return buckets_[BucketOf(batch)].off.Rate(); }

  static constexpr int32_t kFirstProbeInterval = 64;
  static constexpr int32_t kMaxProbeInterval = 4096;
  static constexpr int32_t kConfirmInterval = 8;  // cycles, after a switch
  static constexpr int32_t kProbeCycles = 4;      // the first switches arms, unmeasured
  static constexpr int32_t kMinSamples = 3;       // per arm before the first decision
  static constexpr double kExplorationBudget = 0.01;

 private:
  static constexpr int kBuckets = 16;  // batch in [2^b, 2^(b+1))
  static int BucketOf(int64_t batch);

  // The last kWindow cycles of one arm.
  struct Arm {
    static constexpr int kWindow = 5;
    std::array<double, kWindow> rates{};    // tokens per second
    std::array<double, kWindow> seconds{};  // cycle length
    int64_t samples = 0;
    void Record(double rate, double secs);
    double Rate() const;          // median; 0 before the first sample
    double CycleSeconds() const;  // median
  };
  struct Bucket {
    Arm on, off;
    Arm switch_on, switch_off;  // cycles that start or stop drafting
    bool decided = false;       // both arms measured
    bool drafting = false;      // the current winner
    int32_t since_probe = 0;
    int32_t probe_interval = kFirstProbeInterval;
    int32_t probe_left = 0;  // cycles of the current probe still to run
    const Arm& winner() const { return drafting ? on : off; }
    Arm& loser() { return drafting ? off : on; }
    const Arm& loser() const { return drafting ? off : on; }
  };
  // On wins by the margin.
  bool OnWins(const Bucket& b) const;
  // The arms are too close to call (or unmeasured): probe again soon.
  bool TooCloseToCall(const Bucket& b) const;
  // The shortest interval that keeps probing the loser within the budget.
  int32_t AffordableInterval(const Bucket& b) const;

  SpecPolicy policy_;
  int32_t max_k_;
  double margin_;
  std::array<Bucket, kBuckets> buckets_;
};

// Running per-token acceptance of one sequence's drafts: an exponential
// average over its verification steps, from an optimistic prior, so one
// unlucky draft does not end speculation; about 15 drafts with nothing
// accepted bring it under kMinAcceptance.
struct AcceptanceMeter {
  static constexpr double kMinAcceptance = 0.03;
  double rate = 0.7;
  int64_t steps = 0;
  void Record(int64_t drafted, int64_t accepted) {
    if (drafted <= 0) return;
    const double r = static_cast<double>(accepted) / static_cast<double>(drafted);
    rate = 0.8 * rate + 0.2 * r;
    ++steps;
  }
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_SPEC_POLICY_H_
