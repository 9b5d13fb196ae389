// engine/scheduler/scheduler.cc
#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <optional>

#include "common/check.h"

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
  INFERD_CHECK_GT(config_.max_num_partial_prefills, 0);
}

void Scheduler::Add(Sequence* seq) {
  seq->status = SequenceStatus::kWaiting;
  seq->num_computed_tokens = 0;
  InsertWaiting(seq);
}

void Scheduler::AddFork(Sequence* child, SeqId parent) {
  INFERD_CHECK(!forks_.contains(child->id)) << "fork child " << child->id << " has children";
  child->status = SequenceStatus::kWaiting;
  child->num_computed_tokens = 0;
  forks_[parent].push_back(child);
  ++num_fork_children_;
}

void Scheduler::ReleaseForks(SeqId parent, absl::Time now, SchedulerOutput* out) {
  auto it = forks_.find(parent);
  if (it == forks_.end()) return;
  std::vector<Sequence*> children = std::move(it->second);
  forks_.erase(it);
  num_fork_children_ -= static_cast<int64_t>(children.size());
  for (Sequence* child : children) {
    if (out != nullptr && child->deadline < now) {
      child->status = SequenceStatus::kFinished;
      out->expired.push_back(child->id);
    } else {
      InsertWaiting(child);
    }
  }
}

void Scheduler::PlanForks(SchedulerOutput* out) {
  for (const ScheduledSequence& s : out->scheduled) {
    if (!s.samples || s.num_draft_tokens > 0) continue;
    auto it = forks_.find(s.id);
    if (it == forks_.end()) continue;
    const Sequence* parent = nullptr;
    for (const Sequence* r : running_) {
      if (r->id == s.id) parent = r;
    }
    INFERD_CHECK(parent != nullptr) << "scheduled parent " << s.id << " is not running";
    const int64_t prompt = parent->num_prompt_tokens;
    // The step computes the parent's whole prompt and samples its first
    // token (children join only before the parent has output).
    INFERD_CHECK_EQ(parent->num_tokens(), prompt) << "parent " << s.id << " has output";
    INFERD_CHECK_EQ(s.num_computed_before + s.num_new_tokens, prompt);
    std::vector<Sequence*> children = std::move(it->second);
    forks_.erase(it);
    num_fork_children_ -= static_cast<int64_t>(children.size());
    for (Sequence* child : children) {
      INFERD_CHECK(child->token_ids == parent->token_ids)
          << "fork child " << child->id << " has another prompt than " << s.id;
      std::optional<KvBlockCopy> copy;
      if (static_cast<int32_t>(running_.size()) >= config_.max_num_seqs ||
          !kv_cache_->Fork(parent->id, child->id, prompt, &copy)) {
        InsertWaiting(child);  // computes its own prompt
        continue;
      }
      child->num_computed_tokens = prompt;
      child->scheduled_once = true;
      child->num_cached_tokens = parent->num_cached_tokens;
      child->status = SequenceStatus::kRunning;
      running_.push_back(child);
      out->forks.push_back({parent->id, child->id});
      if (copy.has_value()) out->kv_copies.push_back(*copy);
    }
  }
}

void Scheduler::InsertWaiting(Sequence* seq) {
  auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), seq, ServedBefore);
  waiting_.insert(pos, seq);
}

void Scheduler::Remove(SeqId id) {
  ReleaseForks(id, absl::InfinitePast(), nullptr);
  for (auto& [parent, children] : forks_) {
    auto cit = std::find_if(children.begin(), children.end(),
                            [id](const Sequence* s) { return s->id == id; });
    if (cit == children.end()) continue;
    (*cit)->status = SequenceStatus::kFinished;
    children.erase(cit);
    --num_fork_children_;
    if (children.empty()) {
      const SeqId key = parent;
      forks_.erase(key);
    }
    return;  // a waiting child holds no blocks
  }
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

void Scheduler::ExpireDeadlines(absl::Time now, SchedulerOutput* out) {
  auto expire = [&](Sequence* seq) {
    if (seq->deadline >= now) return false;
    seq->status = SequenceStatus::kFinished;
    kv_cache_->Free(seq->id);
    out->expired.push_back(seq->id);
    return true;
  };
  running_.erase(std::remove_if(running_.begin(), running_.end(), expire), running_.end());
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), expire), waiting_.end());
  // Children of an expired parent expire with it or wait on their own;
  // children past their own deadline expire where they wait.
  if (forks_.empty()) return;
  const size_t num_expired = out->expired.size();
  for (size_t i = 0; i < num_expired; ++i) ReleaseForks(out->expired[i], now, out);
  for (auto it = forks_.begin(); it != forks_.end();) {
    std::vector<Sequence*>& children = it->second;
    const size_t before = children.size();
    children.erase(std::remove_if(children.begin(), children.end(), expire), children.end());
    num_fork_children_ -= static_cast<int64_t>(before - children.size());
    if (children.empty()) {
      forks_.erase(it++);
    } else {
      ++it;
    }
  }
}

Sequence* Scheduler::PreemptOne(SchedulerOutput* out) {
  INFERD_CHECK(!running_.empty());
  // running_ is kept in serving order, so the victim is the last one, and it
  // was not scheduled yet in this step.
  Sequence* victim = running_.back();
  running_.pop_back();
  kv_cache_->Free(victim->id);
  victim->num_computed_tokens = 0;
  victim->draft.Clear();
  victim->status = SequenceStatus::kWaiting;
  ++victim->num_preemptions;
  InsertWaiting(victim);  // its arrival keeps it ahead of later arrivals
  out->preempted.push_back(victim->id);
  return victim;
}

SchedulerOutput Scheduler::Schedule(absl::Time now) {
  SchedulerOutput out;
  ExpireDeadlines(now, &out);
  int64_t budget = config_.max_num_batched_tokens;

  // Decodes need one token each and come first, wherever they sit in the
  // serving order: a prefill chunk only takes what they leave. Prefills
  // (running and waiting) share the rest in up to max_num_partial_prefills
  // equal slices, so a short prompt is not stuck behind a long one.
  std::stable_sort(running_.begin(), running_.end(), ServedBefore);
  int64_t pending_decodes = 0;   // running decodes not yet planned
  int32_t partial_prefills = 0;  // prompts computed across steps, in progress
  for (const Sequence* seq : running_) {
    const int64_t remaining = seq->num_tokens() - seq->num_computed_tokens;
    INFERD_CHECK_GT(remaining, 0) << "running sequence " << seq->id << " has nothing to compute";
    INFERD_CHECK(seq->draft.tokens.empty() || remaining == 1)
        << "sequence " << seq->id << " has a draft but is not decoding";
    if (remaining == 1) {
      ++pending_decodes;
    } else {
      ++partial_prefills;
    }
  }
  const int64_t prefill_slots = std::min<int64_t>(
      config_.max_num_partial_prefills, partial_prefills + static_cast<int64_t>(waiting_.size()));
  int64_t prefills_planned = 0;
  // Tokens a prefill with `remaining` tokens to go may compute now (0: none).
  auto prefill_chunk = [&](int64_t remaining) -> int64_t {
    const int64_t avail = budget - pending_decodes;
    if (avail <= 0) return 0;
    if (!config_.enable_chunked_prefill) return remaining <= avail ? remaining : 0;
    const int64_t slots_left = std::max<int64_t>(1, prefill_slots - prefills_planned);
    return std::min(remaining, std::max<int64_t>(1, avail / slots_left));
  };

  // 1. Running sequences, in serving order (priority, then arrival).
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* seq = running_[i];
    const int64_t remaining = seq->num_tokens() - seq->num_computed_tokens;
    const bool decode = remaining == 1;
    if (decode) {
      // A draft to verify rides along when the budget has room beyond one
      // token for every decode; otherwise it is cut short.
      --pending_decodes;
      seq->draft.Truncate(std::max<int64_t>(0, budget - 1 - pending_decodes));
    }
    int64_t n = decode ? 1 + seq->draft.size() : prefill_chunk(remaining);
    if (n == 0) {
      ++i;  // keeps its blocks; continues next step
      continue;
    }
    bool preempted_self = false;
    while (!kv_cache_->Allocate(seq->id, seq->num_computed_tokens + n)) {
      if (n > 1 && decode) {  // drop the draft before preempting anyone
        seq->draft.Clear();
        n = 1;
        continue;
      }
      const Sequence* victim = running_.back();
      if (victim != seq && victim->num_tokens() - victim->num_computed_tokens == 1) {
        --pending_decodes;
      }
      if (PreemptOne(&out) == seq) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;  // everything after it was preempted too
    out.scheduled.push_back(
        {seq->id, seq->num_computed_tokens, n, decode || n == remaining, decode ? n - 1 : 0});
    budget -= n;
    if (!decode) {
      ++prefills_planned;
      if (n == remaining) --partial_prefills;  // its prefill ends this step
    }
    ++i;
  }

  // 2. Waiting sequences, unless this step already had to preempt.
  for (auto it = waiting_.begin(); out.preempted.empty() && it != waiting_.end() && budget > 0 &&
                                   static_cast<int32_t>(running_.size()) < config_.max_num_seqs;) {
    Sequence* seq = *it;
    INFERD_CHECK_EQ(seq->num_computed_tokens, 0);
    // Cached leading blocks, leaving at least the last token to compute.
    kv_cache_->HashFullBlocks(seq->token_ids, &seq->block_hashes);
    const PrefixHit hit = kv_cache_->FindCachedPrefix(seq->block_hashes, seq->num_tokens() - 1);
    const int64_t cached = static_cast<int64_t>(hit.blocks.size()) * kv_cache_->block_size();
    const int64_t remaining = seq->num_tokens() - cached;
    const int64_t n = prefill_chunk(remaining);
    const bool partial = n < remaining;
    // Nothing fits: the head waits rather than be overtaken for ever.
    if (n == 0) break;
    if (partial && partial_prefills >= config_.max_num_partial_prefills) {
      ++it;  // a later, shorter prompt may still fit whole
      continue;
    }
    // Out of blocks: later sequences must not take what this one waits for.
    if (!kv_cache_->Allocate(seq->id, cached + n, &hit)) break;
    it = waiting_.erase(it);
    if (!seq->scheduled_once) {
      seq->scheduled_once = true;
      seq->num_cached_tokens = cached;
      out.prefix_cache_queries += seq->num_tokens();
      out.prefix_cache_hits += cached;
    }
    seq->num_computed_tokens = cached;
    seq->status = SequenceStatus::kRunning;
    running_.push_back(seq);
    out.scheduled.push_back({seq->id, cached, n, !partial});
    budget -= n;
    ++prefills_planned;
    partial_prefills += partial;
  }

  if (!forks_.empty()) PlanForks(&out);
  out.num_batched_tokens = config_.max_num_batched_tokens - budget;
  return out;
}

void Scheduler::Update(const SchedulerOutput& output) {
  // Schedule() plans a subsequence of running_, in order.
  size_t j = 0;
  for (const ScheduledSequence& s : output.scheduled) {
    while (j < running_.size() && running_[j]->id != s.id) ++j;
    INFERD_CHECK_LT(j, running_.size()) << "running queue changed between Schedule and Update";
    Sequence* seq = running_[j];
    seq->num_computed_tokens = s.num_computed_before + s.num_new_tokens;
    kv_cache_->HashFullBlocks(seq->token_ids, &seq->block_hashes);
    kv_cache_->CacheFullBlocks(seq->id, seq->block_hashes, seq->num_computed_tokens);
  }
}

void Scheduler::RollBack(Sequence* seq, int64_t num_computed) {
  INFERD_CHECK_LE(num_computed, seq->num_computed_tokens);
  seq->num_computed_tokens = num_computed;
  kv_cache_->Truncate(seq->id, num_computed);
}

}  // namespace inferd::engine
