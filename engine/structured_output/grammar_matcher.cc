// engine/structured_output/grammar_matcher.cc — per-sequence position in a
// compiled grammar.
//
// The position is a closed set of interned stacks (grammar_stacks.h); one
// set is kept per accepted token so Rollback is popping. The mask is the OR
// of the cached context-independent masks of the set's top states plus the
// uncertain tokens checked against the full stacks (walked in trie order so
// shared prefixes are read once).
//
// A grammar position from which no token of the vocabulary can continue
// (the grammar needs bytes no token starts with, e.g. a vocabulary without
// some byte) while the output is not yet a sentence: the matcher is
// "stuck"; it then allows EOS (and only EOS) so the request ends instead of
// sampling from an all-zero mask. The output is then not a sentence of the
// grammar; CanTerminate() stays false so the caller can tell.
#include "engine/structured_output/grammar_matcher.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "engine/structured_output/compiled_grammar_internal.h"
#include "engine/structured_output/grammar_stacks.h"
#include "engine/structured_output/token_trie.h"

namespace inferd::engine {

class GrammarMatcherState {
 public:
  explicit GrammarMatcherState(std::shared_ptr<const CompiledGrammar> grammar)
      : grammar_(std::move(grammar)),
        vocab_(&grammar_->vocab()),
        stepper_(&grammar_->automaton(), &arena_) {
    Reset();
  }

  void Reset() {
    history_.clear();
    history_.emplace_back();
    const GrammarAutomaton& a = grammar_->automaton();
    stepper_.Close({arena_.Intern(a.rule_start[static_cast<size_t>(a.root)], kEmptyStack)},
                   &history_.back().set);
    mask_valid_ = false;
  }

  const TokenVocabulary& vocab() const { return *vocab_; }
  const StackSet& current() const { return history_.back().set; }
  bool terminated() const { return history_.back().terminated; }
  int32_t num_accepted() const { return static_cast<int32_t>(history_.size()) - 1; }

  const std::vector<uint32_t>& Mask() {
    if (!mask_valid_) ComputeMask();
    return mask_;
  }
  bool stuck() {
    Mask();
    return stuck_;
  }

  bool IsAllowed(int32_t id) {
    if (id < 0 || id >= vocab_->size() || terminated()) return false;
    if (vocab_->is_eos(id)) return current().ended || stuck();
    if (vocab_->is_special(id)) return false;
    std::string_view bytes = vocab_->bytes(id);
    if (bytes.empty()) return false;
    size_t mark = arena_.size();
    bool ok = stepper_.Walk(current(), bytes, &scratch_) && (!scratch_.empty() || scratch_.ended);
    arena_.Truncate(mark);
    return ok;
  }

  bool Accept(int32_t id) {
    if (id < 0 || id >= vocab_->size() || terminated()) return false;
    if (vocab_->is_eos(id)) {
      if (!(current().ended || stuck())) return false;
      Position p;
      p.set = current();
      p.terminated = true;
      history_.push_back(std::move(p));
      mask_valid_ = false;
      return true;
    }
    if (vocab_->is_special(id)) return false;
    std::string_view bytes = vocab_->bytes(id);
    if (bytes.empty()) return false;
    size_t mark = arena_.size();
    Position p;
    if (!stepper_.Walk(current(), bytes, &p.set) || (p.set.empty() && !p.set.ended)) {
      arena_.Truncate(mark);
      return false;
    }
    history_.push_back(std::move(p));
    mask_valid_ = false;
    return true;
  }

  void Rollback(int32_t n) {
    INFERD_CHECK(n >= 0 && n <= num_accepted()) << "Rollback(" << n << ") of " << num_accepted();
    history_.resize(history_.size() - static_cast<size_t>(n));
    if (n > 0) mask_valid_ = false;
  }

 private:
  struct Position {
    StackSet set;
    bool terminated = false;
  };

  void ComputeMask() {
    auto words = static_cast<size_t>(vocab_->bitmask_words());
    mask_.assign(words, 0);
    stuck_ = false;
    mask_valid_ = true;
    if (terminated()) return;
    const StackSet& cur = current();
    uint32_t* m = mask_.data();
    // Context-independent parts, once per distinct key (top frames).
    entries_.clear();
    const size_t deepen = DeepenAboveUncertain(vocab_->size());
    TakeSiblings(cur, deepen, m);
    for (size_t j = 0; j < cur.stacks.size(); ++j) {
      const int32_t id = cur.stacks[j];
      if (skip_[j] != 0) {
        entries_.push_back(nullptr);
        continue;
      }
      int32_t key[kMaxKeyFrames];
      int n = 0;
      const TokenMaskEntry* e = nullptr;
      for (int32_t f = id; n < kMaxKeyFrames && f >= 0; f = arena_.parent(f)) {
        key[n++] = arena_.state(f);
        e = &grammar_->Entry(key, n);
        if (e->uncertain_ranks.size() <= deepen) break;
      }
      entries_.push_back(e);
      bool seen = false;
      for (size_t j = 0; j + 1 < entries_.size() && !seen; ++j) seen = entries_[j] == e;
      if (seen) continue;
      if (!e->accepted_bits.empty()) {
        const uint32_t* src = e->accepted_bits.data();
        for (size_t w = 0; w < words; ++w) m[w] |= src[w];
      } else {
        for (int32_t t : e->accepted_ids) m[t / 32] |= 1u << (t % 32);
      }
    }
    // Uncertain tokens, against each full stack (a sibling entry's against
    // all its stacks).
    size_t mark = arena_.size();
    for (const SiblingGroup& g : groups_) {
      seeds_.assign(sibling_stacks_.begin() + static_cast<std::ptrdiff_t>(g.begin),
                    sibling_stacks_.begin() + static_cast<std::ptrdiff_t>(g.end));
      CheckUncertain(seeds_, g.entry->uncertain_ranks, m);
    }
    for (size_t j = 0; j < cur.stacks.size(); ++j) {
      const TokenMaskEntry* e = entries_[j];
      if (e != nullptr && !e->uncertain_ranks.empty()) {
        seeds_.assign(1, cur.stacks[j]);
        CheckUncertain(seeds_, e->uncertain_ranks, m);
      }
    }
    arena_.Truncate(mark);
    bool any = false;
    for (size_t w = 0; w < words && !any; ++w) any = m[w] != 0;
    if (cur.ended || !any) {
      stuck_ = !any && !cur.ended;
      for (int32_t eos : vocab_->eos_ids()) m[eos / 32] |= 1u << (eos % 32);
    }
  }

  // Marks in skip_ the stacks of `set` that need no entry of their own:
  // those in the closure of another (1), and runs of at least kMinSiblings
  // stacks right above the same frames whose joint entry leaves at most
  // `deepen` tokens uncertain (2): that entry's accepted tokens go into `m`
  // and its uncertain ones are checked against the run's stacks (groups_).
  // An object's optional members each put a stack at the next key, every
  // one a walk of its own (a few µs, but 15-30 of them in one mask).
  void TakeSiblings(const StackSet& set, size_t deepen, uint32_t* m) {
    const size_t n = set.stacks.size();
    skip_.assign(n, 0);
    groups_.clear();
    sibling_stacks_.clear();
    order_.clear();
    for (size_t j = 0; j < n; ++j) {
      if (InClosureOfAnother(set, set.stacks[j])) {
        skip_[j] = 1;
      } else {
        order_.push_back(static_cast<int32_t>(j));
      }
    }
    if (order_.size() < kMinSiblings) return;
    auto parent_of = [&](int32_t j) { return arena_.parent(set.stacks[static_cast<size_t>(j)]); };
    auto top_of = [&](int32_t j) { return arena_.state(set.stacks[static_cast<size_t>(j)]); };
    std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
      return parent_of(a) != parent_of(b) ? parent_of(a) < parent_of(b) : top_of(a) < top_of(b);
    });
    const auto words = static_cast<size_t>(vocab_->bitmask_words());
    for (size_t lo = 0; lo < order_.size();) {
      size_t hi = lo + 1;
      while (hi < order_.size() && parent_of(order_[hi]) == parent_of(order_[lo])) ++hi;
      if (hi - lo >= kMinSiblings) {
        tops_.clear();
        for (size_t k = lo; k < hi; ++k) tops_.push_back(top_of(order_[k]));
        const TokenMaskEntry& e =
            grammar_->SiblingsEntry(tops_.data(), static_cast<int>(tops_.size()));
        if (e.uncertain_ranks.size() <= deepen) {
          if (!e.accepted_bits.empty()) {
            for (size_t w = 0; w < words; ++w) m[w] |= e.accepted_bits[w];
          } else {
            for (int32_t t : e.accepted_ids) m[t / 32] |= 1u << (t % 32);
          }
          const size_t begin = sibling_stacks_.size();
          for (size_t k = lo; k < hi; ++k) {
            skip_[static_cast<size_t>(order_[k])] = 2;
            sibling_stacks_.push_back(set.stacks[static_cast<size_t>(order_[k])]);
          }
          if (!e.uncertain_ranks.empty()) groups_.push_back({&e, begin, sibling_stacks_.size()});
        }
      }
      lo = hi;
    }
  }

  // Whether stack `id` is a callee's start pushed by the closure of another
  // stack of `set` (a bounded string's next character, pushed by the
  // position that may also close the string). That stack's entry is walked
  // from its whole closure and its uncertain tokens are checked against its
  // whole closure, so it answers for every token `id` can read: `id` needs
  // no entry (its own walk repeated the other's, per position of a bounded
  // string). One level of call is recognised; anything else is kept.
  bool InClosureOfAnother(const StackSet& set, int32_t id) const {
    const GrammarAutomaton& a = grammar_->automaton();
    const int32_t top = arena_.state(id);
    const int32_t rule = a.states[static_cast<size_t>(top)].rule;
    if (a.rule_start[static_cast<size_t>(rule)] != top) return false;
    const int32_t parent = arena_.parent(id);
    // The caller's continuation was pushed (`cont` over `under`) or, when it
    // can only return, left out (the callee over `parent`).
    const int32_t cont = parent >= 0 ? arena_.state(parent) : -1;
    const int32_t under = parent >= 0 ? arena_.parent(parent) : kBottom;
    for (int32_t other : set.stacks) {
      if (other == id) continue;
      const int32_t other_parent = arena_.parent(other);
      if (other_parent != under && other_parent != parent) continue;
      for (const CallEdge& c : a.states[static_cast<size_t>(arena_.state(other))].calls) {
        if (c.rule != rule) continue;
        const bool elided = a.states[static_cast<size_t>(c.to)].final_only;
        if (elided ? other_parent == parent : (other_parent == under && c.to == cont)) return true;
      }
    }
    return false;
  }

  // Sets the bits of the `ranks` tokens readable from stacks `ids` (with their
  // whole context), reusing the sets of the previous token's common prefix.
  void CheckUncertain(const std::vector<int32_t>& ids, const std::vector<int32_t>& ranks,
                      uint32_t* m) {
    const TokenTrie& trie = vocab_->trie();
    if (sets_.size() < static_cast<size_t>(trie.max_depth()) + 1) {
      sets_.resize(static_cast<size_t>(trie.max_depth()) + 1);
    }
    stepper_.Close(ids, &sets_[0]);
    std::string_view prev;
    size_t valid = 0;  // sets_[0..valid] hold prev's prefixes (or end at a dead one)
    for (int32_t r : ranks) {
      int32_t tok = trie.id(r);
      if (m[tok / 32] & (1u << (tok % 32))) continue;
      std::string_view b = trie.bytes(r);
      size_t lcp = 0;
      while (lcp < prev.size() && lcp < b.size() && prev[lcp] == b[lcp]) ++lcp;
      size_t d = std::min(lcp, valid);
      prev = b;
      if (d > 0 && sets_[d].empty() && d < b.size()) {
        valid = d;
        continue;
      }
      for (; d < b.size(); ++d) {
        stepper_.Step(sets_[d], static_cast<uint8_t>(b[d]), &sets_[d + 1]);
        if (sets_[d + 1].empty()) {
          ++d;
          break;
        }
      }
      valid = d;
      if (d == b.size() && (!sets_[d].empty() || sets_[d].ended)) {
        m[tok / 32] |= 1u << (tok % 32);
      }
    }
  }

  std::shared_ptr<const CompiledGrammar> grammar_;
  const TokenVocabulary* vocab_;
  StackArena arena_;
  StackStepper stepper_;
  std::vector<Position> history_;
  std::vector<uint32_t> mask_;
  bool mask_valid_ = false;
  bool stuck_ = false;
  StackSet scratch_;
  std::vector<StackSet> sets_;
  std::vector<const TokenMaskEntry*> entries_;
  // TakeSiblings' results and scratch.
  static constexpr size_t kMinSiblings = 4;
  struct SiblingGroup {
    const TokenMaskEntry* entry;
    size_t begin, end;  // its stacks in sibling_stacks_
  };
  std::vector<char> skip_;  // per stack of the set: 0 own entry, 1 in another's closure, 2 sibling
  std::vector<SiblingGroup> groups_;
  std::vector<int32_t> sibling_stacks_, order_, tops_, seeds_;
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : state_(std::make_unique<GrammarMatcherState>(std::move(grammar))) {}
GrammarMatcher::~GrammarMatcher() = default;
GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;

void GrammarMatcher::FillNextTokenBitmask(uint32_t* bitmask) {
  const std::vector<uint32_t>& m = state_->Mask();
  std::memcpy(bitmask, m.data(), m.size() * sizeof(uint32_t));
}

bool GrammarMatcher::IsTokenAllowed(int32_t id) { return state_->IsAllowed(id); }
bool GrammarMatcher::AcceptToken(int32_t id) { return state_->Accept(id); }
void GrammarMatcher::Rollback(int32_t num_tokens) { state_->Rollback(num_tokens); }
bool GrammarMatcher::CanTerminate() const { return state_->current().ended; }

bool GrammarMatcher::IsCompleted() const {
  if (state_->terminated()) return true;
  if (state_->current().empty()) return true;
  const std::vector<uint32_t>& m = state_->Mask();
  std::vector<uint32_t> copy = m;
  for (int32_t eos : state_->vocab().eos_ids())
    copy[static_cast<size_t>(eos) / 32] &= ~(1u << (eos % 32));
  for (uint32_t w : copy) {
    if (w) return false;
  }
  return true;
}

bool GrammarMatcher::IsTerminated() const { return state_->terminated(); }
int32_t GrammarMatcher::num_accepted_tokens() const { return state_->num_accepted(); }
void GrammarMatcher::Reset() { state_->Reset(); }

}  // namespace inferd::engine
