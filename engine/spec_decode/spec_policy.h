// engine/spec_decode/spec_policy.h — the server-side speculation policy
// (DESIGN §6): each step, whether and how far to draft.
//
// Whether speculation pays depends on the model, the hardware, the proposer,
// the batch and the draft length: verifying k extra tokens per sequence is
// nearly free while a step is memory-bound and costs almost k times a plain
// step once it is compute-bound (or, for a tiny model on a CPU,
// overhead-bound); a short chain or a shallow Medusa tree can pay where the
// full one does not. Rather than predict it, the adaptive policy measures
// it. Per decode batch size (power of two buckets; batch 1 is a bucket like
// the others) it measures output tokens per second of wall time for each of
// its arms: "off" (cycles that neither verified nor drafted) and each
// candidate draft length k in {1, 2, max_k} (cycles that verified a draft
// of length k and drafted k again); a cycle is a step plus the drafting
// after it, so the proposer's cost is counted. Each arm's estimate is the
// median of its last five cycles, so one cycle that the OS stalled does not
// decide. A draft length's median is divided by its stall penalty: how much
// longer, on average, its cycles take than their median says, beyond what
// "off"'s do. Stalls that come with drafting (on a shared machine, a step
// that hands work to a second thread waits whenever another process holds
// that core, and at batch 1 only drafting's multi-row steps do) are part of
// its cost, and can outweigh a draft's gain. A draft length is the
// proposer's: a chain of k tokens, or a Medusa tree cut at depth k.
//
// A bucket first measures "off", then each length, and picks the fastest
// arm (a length must beat "off" by a margin; a first pick other than "off"
// is confirmed soon, as a switch is). From then on it only decides
// at the end of a probe: a few cycles of one losing arm, measured afresh and
// compared with the winner's cycles just before them. Only cycles next to
// each other are compared, because a step's cost drifts with the context
// length: the same arm runs twice as fast at the start of a batch of
// streams as at its end, so a stale estimate of one arm against a fresh one
// of another would decide on the drift. Each losing arm has its own probe
// interval, which doubles (64 cycles up to kMaxProbeInterval per loser)
// while that arm stays a loser, and which is never shorter than what keeps
// all the losers' probes together under kExplorationBudget of throughput,
// given each one's measured gap and measured cost of switching to it and
// back (an arm eight times slower, or a draft model that must catch up on
// every context before it drafts, is probed rarely, even when the two are
// too close to call). A probe that switches arms is confirmed by a probe of
// the old winner soon after. Steps with prompt tokens and the cycles that
// switch arms are not measured as an arm's.
//
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

  // A decision that is no arm of the policy's: it was not asked (no
  // sequence left the choice to the server), or sequences that asked for
  // speculation drafted while it said no. Such a cycle is not measured.
  static constexpr int32_t kNotAnArm = -1;

  // One engine cycle (a step and the drafting after it). `generated`: the
  // output tokens the step produced; `batch`: its decoding sequences;
  // `verified_k`: the draft length DraftLength chose for the step (the
  // decision after the cycle before; 0: no drafts); `drafted_k`: the length
  // it chose after the step. A cycle is measured for arm k when both are k,
  // whether or not the proposer found anything to draft (n-gram lookup often
  // does not): an arm is what follows from the policy's decision. Cycles
  // between two arms are measured as a switch.
  void RecordCycle(double seconds, int64_t generated, int64_t batch, bool had_prefill,
                   int32_t verified_k, int32_t drafted_k);

  // Draft length for the next step. `batch`: the sequences that will decode
  // in it, whether they may draft or not (the batch size RecordCycle will
  // see for it, so a decision and its measurement fall in the same bucket);
  // `acceptance`: the measured acceptance rates of the sequences that could
  // draft now. 0: do not draft; otherwise one of candidate_lengths().
  int32_t DraftLength(int64_t batch, absl::Span<const double> acceptance);

  // The draft lengths the adaptive policy chooses among, ascending: 1, 2
  // and max_k, those that are <= max_k (no repeats).
  absl::Span<const int32_t> candidate_lengths() const {
    return absl::MakeConstSpan(lengths_.data() + 1, num_arms_ - 1);
  }

  // The measured rate of a batch size's bucket (tokens/s; 0: unmeasured,
  // or `k` is not a candidate length): draft length k, 0 for "off".
  double Rate(int64_t batch, int32_t k) const;
  double OffRate(int64_t batch) const { return Rate(batch, 0); }

  static constexpr int32_t kFirstProbeInterval = 64;
  static constexpr int32_t kMaxProbeInterval = 4096;  // per losing arm
  static constexpr int32_t kConfirmInterval = 8;      // cycles, after a switch
  static constexpr int32_t kProbeCycles = 4;          // the first switches arms, unmeasured
  static constexpr int32_t kMinSamples = 3;           // per arm before the first decision
  static constexpr double kExplorationBudget = 0.01;  // all losing arms together
  // A drafting winner's stall penalty from which "off" is probed as soon as
  // the penalty may have tipped the last comparison (jitter and rare stalls
  // alone give about 1.1).
  static constexpr double kStallPenaltyToRecheck = 1.25;

 private:
  static constexpr int kBuckets = 16;  // batch in [2^b, 2^(b+1))
  static constexpr int kMaxArms = 4;   // off, 1, 2, max_k
  static int BucketOf(int64_t batch);

  // One arm's cycles: the last kWindow of them, and how much longer its
  // cycles take on average than its typical one.
  struct Arm {
    static constexpr int kWindow = 5;
    static constexpr int kHistory = 16;    // the typical cycle of a run of the arm
    static constexpr int kMinHistory = 8;  // cycles of a run before it counts
    static constexpr double kOverheadWeight = 1.0 / 64;
    static constexpr double kMaxOverheadRatio = 8;  // one cycle's contribution
    std::array<double, kWindow> rates{};            // tokens per second
    std::array<double, kWindow> seconds{};          // cycle length
    std::array<double, kHistory> history{};         // cycle length
    int64_t samples = 0;  // since the arm's run began (a probe starts one)
    // Long-run mean of a cycle's length over the median of its run's last
    // kHistory cycles (an exponential average over runs of at least
    // kMinHistory cycles, never restarted; 1 until then, so an arm seen in
    // probes only is assumed not to stall, and is found out when it wins):
    // the stalls a median leaves out. It is a ratio, so it survives the
    // drift of a step's cost with context length.
    double overhead = 1.0;
    void Record(double rate, double secs);
    double MedianRate() const;     // 0 before the first sample
    double MedianSeconds() const;  // 0 before the first sample
  };
  struct Bucket {
    std::array<Arm, kMaxArms> arms;  // by arm index: draft length lengths_[i]
    // [from][to]: cycles decided as arm `from` before and `to` after.
    std::array<std::array<Arm, kMaxArms>, kMaxArms> switches;
    bool decided = false;  // every arm measured
    int winner = 0;
    // Per losing arm: steady cycles since it was last probed, and how many
    // are to pass before it is probed again.
    std::array<int32_t, kMaxArms> since_probe{};
    std::array<int32_t, kMaxArms> probe_interval{};
    int probing = -1;             // the arm the current probe measures
    int32_t probe_left = 0;       // cycles of the current probe still to run
    int32_t since_probe_end = 0;  // steady cycles since the last probe ended
    // At the last decision, the winner's median rate over "off"'s (0: off
    // is the winner).
    double off_ratio = 0;
  };
  // Arm a's stall penalty: 1 for "off"; for a draft length, its overhead
  // over "off"'s, at least 1.
  double StallPenalty(const Bucket& bucket, int a) const;
  // Arm a's estimate: its median rate over its stall penalty (0:
  // unmeasured), and its median cycle length times its stall penalty.
  double Rate(const Bucket& bucket, int a) const;
  double CycleSeconds(const Bucket& bucket, int a) const;
  // The arm index of draft length k; -1 when k is none.
  int ArmOf(int32_t k) const;
  // What a cycle that switches from arm `from` to `to` loses against the
  // winner (seconds): measured, or the dearest measured switch into `to` or
  // out of `from` (0: none).
  double SwitchLoss(const Bucket& bucket, int from, int to) const;
  // After a decision: records bucket.off_ratio.
  void NoteOffRatio(Bucket& bucket) const;
  // Arm a beats arm c: the faster, a draft length by the margin over "off".
  bool Beats(const Bucket& bucket, int a, int c) const;
  // The fastest arm (the first decision).
  int Best(const Bucket& bucket) const;
  // Loser `a` is too close to the winner to call (or either is
  // unmeasured): probe it again soon.
  bool TooCloseToCall(const Bucket& bucket, int a) const;
  // The shortest interval that keeps probing loser `a` within its share of
  // the budget (`switches_only`: counting only the switches to it and back).
  int32_t AffordableInterval(const Bucket& bucket, int a, bool switches_only = false) const;
  // After a decision: loser `a`'s next interval (`doubled`: its last one
  // doubled, when it lost clearly again).
  void SetInterval(Bucket& bucket, int a, bool doubled) const;

  SpecPolicy policy_;
  int32_t max_k_;
  double margin_;
  std::array<int32_t, kMaxArms> lengths_{};  // lengths_[0] = 0: off
  int num_arms_ = 1;
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
