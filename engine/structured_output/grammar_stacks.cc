// engine/structured_output/grammar_stacks.cc — closure and byte steps.
#include "engine/structured_output/grammar_stacks.h"

#include <atomic>

namespace inferd::engine {

namespace {
std::atomic<int64_t> g_truncated{0};
}  // namespace

int64_t StackClosuresTruncated() { return g_truncated.load(std::memory_order_relaxed); }

void StackArena::Truncate(size_t n) {
  while (nodes_.size() > n) {
    const Node& node = nodes_.back();
    index_.erase((static_cast<uint64_t>(static_cast<uint32_t>(node.state)) << 32) |
                 static_cast<uint32_t>(node.parent));
    nodes_.pop_back();
  }
}

void StackStepper::Close(const std::vector<int32_t>& seeds, StackSet* out) {
  out->stacks.clear();
  out->ended = false;
  out->below = false;
  if (++stamp_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    stamp_ = 1;
  }
  work_.clear();
  auto push = [&](int32_t id) {
    if (id == kEmptyStack) {
      out->ended = true;
      return;
    }
    if (id == kBottom) {
      out->below = true;
      return;
    }
    if (static_cast<size_t>(id) >= seen_.size()) seen_.resize(arena_->size() + 1024, 0);
    if (seen_[static_cast<size_t>(id)] == stamp_) return;
    seen_[static_cast<size_t>(id)] = stamp_;
    work_.push_back(id);
  };
  for (int32_t s : seeds) push(s);
  size_t visited = 0;
  while (!work_.empty()) {
    if (++visited > kMaxStacksPerClosure) {
      g_truncated.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    int32_t id = work_.back();
    work_.pop_back();
    int32_t parent = arena_->parent(id);
    const AutomatonState& st = a_->states[static_cast<size_t>(arena_->state(id))];
    if (!st.bytes.empty()) out->stacks.push_back(id);
    for (const CallEdge& c : st.calls) {
      const AutomatonState& cont = a_->states[static_cast<size_t>(c.to)];
      int32_t below = cont.final_only ? parent : arena_->Intern(c.to, parent);
      push(arena_->Intern(a_->rule_start[static_cast<size_t>(c.rule)], below));
    }
    if (st.accepting) push(parent);
  }
}

void StackStepper::Step(const StackSet& in, uint8_t byte, StackSet* out) {
  seeds_.clear();
  for (int32_t id : in.stacks) {
    const AutomatonState& st = a_->states[static_cast<size_t>(arena_->state(id))];
    for (const ByteEdge& e : st.bytes) {
      if (e.lo > byte) break;
      if (byte > e.hi) continue;
      const AutomatonState& to = a_->states[static_cast<size_t>(e.to)];
      seeds_.push_back(to.final_only ? arena_->parent(id)
                                     : arena_->Intern(e.to, arena_->parent(id)));
    }
  }
  Close(seeds_, out);
}

bool StackStepper::Walk(const StackSet& in, std::string_view bytes, StackSet* out) {
  const StackSet* cur = &in;
  int k = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    StackSet* next = (i + 1 == bytes.size()) ? out : &tmp_[k];
    k ^= 1;
    Step(*cur, static_cast<uint8_t>(bytes[i]), next);
    if (next->empty() && !(i + 1 == bytes.size() && (next->ended || next->below))) {
      out->stacks.clear();
      out->ended = out->below = false;
      return false;
    }
    cur = next;
  }
  if (bytes.empty()) *out = in;
  return true;
}

}  // namespace inferd::engine
