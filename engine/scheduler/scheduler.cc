// engine/scheduler/scheduler.cc
#include "engine/scheduler/scheduler.h"

#include <algorithm>

#include "kernels/check.h"

namespace inferd::engine {

namespace {
// True when `a` should be served before `b`.
bool ServedBefore(const Sequence* a, const Sequence* b) {
  if (a->priority != b->priority) return a->priority < b->priority;
  return a->arrival < b->arrival;
}
}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager* kv_cache)
    : config_(config), kv_cache_(kv_cache) {
  INFERD_CHECK_GT(config_.max_num_seqs, 0);
  INFERD_CHECK_GT(config_.max_num_batched_tokens, 0);
}

void Scheduler::Add(Sequence* seq) {
  seq->status = SequenceStatus::kWaiting;
  seq->num_computed_tokens = 0;
  InsertWaiting(seq);
}

void Scheduler::InsertWaiting(Sequence* seq) {
  auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), seq, ServedBefore);
  waiting_.insert(pos, seq);
}

void Scheduler::Remove(SeqId id) {
  auto match = [id](const Sequence* s) { return s->id == id; };
  if (auto it = std::find_if(running_.begin(), running_.end(), match); it != running_.end()) {
    (*it)->status = SequenceStatus::kFinished;
    running_.erase(it);
  } else if (auto wit = std::find_if(waiting_.begin(), waiting_.end(), match);
             wit != waiting_.end()) {
    (*wit)->status = SequenceStatus::kFinished;
    waiting_.erase(wit);
  }
  kv_cache_->Free(id);
}

Sequence* Scheduler::PreemptOne(SchedulerOutput* out) {
  INFERD_CHECK(!running_.empty());
  // running_ is kept in serving order, so the victim is the last one, and it
  // was not scheduled yet in this step.
  Sequence* victim = running_.back();
  running_.pop_back();
  kv_cache_->Free(victim->id);
  victim->num_computed_tokens = 0;
  victim->status = SequenceStatus::kWaiting;
  ++victim->num_preemptions;
  InsertWaiting(victim);  // its arrival keeps it ahead of later arrivals
  out->preempted.push_back(victim->id);
  return victim;
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_num_batched_tokens;

  // 1. Running sequences, in serving order (priority, then arrival).
  std::stable_sort(running_.begin(), running_.end(), ServedBefore);
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* seq = running_[i];
    const int64_t n = std::min(seq->num_tokens() - seq->num_computed_tokens, budget);
    INFERD_CHECK_GT(n, 0) << "running sequence " << seq->id << " has nothing to compute";
    bool preempted_self = false;
    while (!kv_cache_->Allocate(seq->id, seq->num_computed_tokens + n)) {
      if (PreemptOne(&out) == seq) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;  // everything after it was preempted too
    out.scheduled.push_back(
        {seq->id, seq->num_computed_tokens, n, seq->num_computed_tokens + n == seq->num_tokens()});
    budget -= n;
    ++i;
  }

  // 2. Waiting sequences, unless this step already had to preempt.
  while (out.preempted.empty() && !waiting_.empty() && budget > 0 &&
         static_cast<int32_t>(running_.size()) < config_.max_num_seqs) {
    Sequence* seq = waiting_.front();
    const int64_t n = std::min(seq->num_tokens() - seq->num_computed_tokens, budget);
    if (!kv_cache_->Allocate(seq->id, seq->num_computed_tokens + n)) break;
    waiting_.pop_front();
    seq->status = SequenceStatus::kRunning;
    running_.push_back(seq);
    out.scheduled.push_back(
        {seq->id, seq->num_computed_tokens, n, seq->num_computed_tokens + n == seq->num_tokens()});
    budget -= n;
  }

  out.num_batched_tokens = config_.max_num_batched_tokens - budget;
  return out;
}

void Scheduler::Update(const SchedulerOutput& output) {
  // Schedule() plans a prefix of running_, in order.
  INFERD_CHECK_LE(output.scheduled.size(), running_.size());
  for (size_t i = 0; i < output.scheduled.size(); ++i) {
    const ScheduledSequence& s = output.scheduled[i];
    Sequence* seq = running_[i];
    INFERD_CHECK_EQ(seq->id, s.id) << "running queue changed between Schedule and Update";
    seq->num_computed_tokens = s.num_computed_before + s.num_new_tokens;
  }
}

}  // namespace inferd::engine
