// engine/structured_output/compiled_grammar.cc — CompileGbnf and the
// context-independent token mask cache.
#include "engine/structured_output/compiled_grammar.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/structured_output/compiled_grammar_internal.h"
#include "engine/structured_output/gbnf_parser.h"
#include "engine/structured_output/grammar_stacks.h"
#include "engine/structured_output/token_trie.h"

namespace inferd::engine {

absl::StatusOr<std::shared_ptr<const CompiledGrammar>> CompileGbnf(
    std::string_view gbnf, std::shared_ptr<const TokenVocabulary> vocab,
    const GrammarLimits& limits) {
  absl::Time deadline = absl::Now() + limits.compile_timeout;
  if (static_cast<int64_t>(gbnf.size()) > limits.max_grammar_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grammar too large: ", gbnf.size(), " bytes, the limit is ", limits.max_grammar_bytes));
  }
  auto max_repeat = static_cast<int32_t>(std::min<int64_t>(limits.max_states, int64_t{1} << 30));
  auto parsed = ParseGbnf(gbnf, max_repeat);
  if (!parsed.ok()) return parsed.status();
  auto automaton = BuildAutomaton(*parsed, limits, deadline);
  if (!automaton.ok()) return automaton.status();
  return std::make_shared<const CompiledGrammar>(std::move(*automaton), std::move(vocab));
}

CompiledGrammar::CompiledGrammar(GrammarAutomaton automaton,
                                 std::shared_ptr<const TokenVocabulary> vocab)
    : automaton_(std::move(automaton)), vocab_(std::move(vocab)) {}

namespace {

// Process-wide entries by canonical key, shared by every grammar. Bounded:
// past kMaxShared entries it starts over (grammars keep the entries they
// hold).
constexpr size_t kMaxShared = 4096;
// A key reaching more states than this is not shared: its canonical form
// would cost more than the entry (a frame in a big object rule reaches the
// whole schema), and such keys seldom recur in another grammar. The shared
// ones are small: string, number, whitespace and bounded-length rules.
constexpr size_t kMaxCanonicalStates = 256;

struct SharedEntries {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const TokenMaskEntry>> map ABSL_GUARDED_BY(mu);
};

SharedEntries& Shared() {
  static auto* shared = new SharedEntries();
  return *shared;
}

void AppendInt(int32_t v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

}  // namespace

std::string CompiledGrammar::CanonicalKey(const int32_t* key, int n) const {
  std::string out;
  uint64_t fp = vocab_->fingerprint();
  out.append(reinterpret_cast<const char*>(&fp), sizeof(fp));
  AppendInt(vocab_->size(), &out);
  AppendInt(n, &out);
  absl::flat_hash_map<int32_t, int32_t> canon;
  std::vector<int32_t> order;
  auto id = [&](int32_t s) {
    auto [it, fresh] = canon.try_emplace(s, static_cast<int32_t>(order.size()));
    if (fresh) order.push_back(s);
    return it->second;
  };
  for (int i = 0; i < n; ++i) AppendInt(id(key[i]), &out);
  for (size_t k = 0; k < order.size(); ++k) {
    if (order.size() > kMaxCanonicalStates) return std::string();
    const AutomatonState& st = automaton_.states[static_cast<size_t>(order[k])];
    AppendInt((st.accepting ? 1 : 0) | (st.final_only ? 2 : 0), &out);
    AppendInt(static_cast<int32_t>(st.bytes.size()), &out);
    for (const ByteEdge& e : st.bytes) {
      AppendInt(e.lo | (e.hi << 8), &out);
      AppendInt(id(e.to), &out);
    }
    AppendInt(static_cast<int32_t>(st.calls.size()), &out);
    for (const CallEdge& c : st.calls) {
      AppendInt(id(automaton_.rule_start[static_cast<size_t>(c.rule)]), &out);
      AppendInt(id(c.to), &out);
    }
  }
  return out;
}

const TokenMaskEntry& CompiledGrammar::Entry(const int32_t* key, int n) const {
  std::string k(reinterpret_cast<const char*>(key), static_cast<size_t>(n) * sizeof(int32_t));
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(k);
    if (it != entries_.end()) return *it->second;
  }
  // Computed (or found in the shared cache) outside this grammar's lock; a
  // concurrent duplicate is dropped.
  std::string canonical = CanonicalKey(key, n);
  std::shared_ptr<const TokenMaskEntry> entry;
  SharedEntries& shared = Shared();
  if (!canonical.empty()) {
    absl::MutexLock lock(&shared.mu);
    auto it = shared.map.find(canonical);
    if (it != shared.map.end()) entry = it->second;
  }
  if (!entry) {
    // A deeper key refines only the shallower key's uncertain tokens.
    entry = ComputeEntry(key, n, n > 1 ? &Entry(key, n - 1) : nullptr);
    if (!canonical.empty()) {
      absl::MutexLock lock(&shared.mu);
      if (shared.map.size() >= kMaxShared) shared.map.clear();
      shared.map.try_emplace(std::move(canonical), entry);
    }
  }
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = entries_.try_emplace(std::move(k), nullptr);
  if (fresh) it->second = std::move(entry);
  return *it->second;
}

std::unique_ptr<TokenMaskEntry> CompiledGrammar::ComputeEntry(const int32_t* key, int n,
                                                              const TokenMaskEntry* shallow) const {
  const TokenTrie& trie = vocab_->trie();
  StackArena arena;
  StackStepper stepper(&automaton_, &arena);
  // Stack sets are interned too (sorted stacks + the `below` flag), and each
  // (set, byte) step is computed once: most trie nodes repeat a step already
  // seen (a string's content state loops on itself).
  std::vector<StackSet> all;
  absl::flat_hash_map<std::vector<int32_t>, int32_t> set_index;
  // step[set * 256 + byte]: the set reached, -1 until computed.
  std::vector<int32_t> step;
  std::vector<int32_t> set_key;
  auto intern_set = [&](StackSet&& set) {
    set_key.assign(set.stacks.begin(), set.stacks.end());
    std::sort(set_key.begin(), set_key.end());
    set_key.push_back(set.below ? -1 : -2);
    auto [it, fresh] = set_index.try_emplace(set_key, static_cast<int32_t>(all.size()));
    if (fresh) {
      all.push_back(std::move(set));
      step.resize(all.size() * 256, -1);
    }
    return it->second;
  };
  std::vector<int32_t> ids(static_cast<size_t>(trie.max_depth()) + 1);
  // pending[d]: some prefix of length 1..d returned below the frame.
  std::vector<char> pending(ids.size(), 0);
  int32_t seed = kBottom;
  for (int i = n - 1; i >= 0; --i) seed = arena.Intern(key[i], seed);
  {
    StackSet first;
    stepper.Close({seed}, &first);
    first.below = false;  // returning before any byte needs no check
    ids[0] = intern_set(std::move(first));
  }
  StackSet next;
  auto step_to = [&](int32_t from, uint8_t byte) {
    size_t slot = static_cast<size_t>(from) * 256 + byte;
    if (step[slot] < 0) {
      stepper.Step(all[static_cast<size_t>(from)], byte, &next);
      int32_t to = intern_set(std::move(next));
      step[slot] = to;  // after intern_set: it may grow `step`
      next = StackSet();
    }
    return step[slot];
  };
  // One preorder walk of the trie. With a shallower entry, only its
  // uncertain ranks are asked about (the others keep its answer: more
  // context only decides returns below its frames), and a subtree holding
  // none of them is skipped; a dead set skips its subtree either way.
  const std::vector<int32_t>* filter = shallow != nullptr ? &shallow->uncertain_ranks : nullptr;
  size_t f = 0;  // filter index: first filtered rank not yet passed
  std::vector<int32_t> accepted, uncertain;
  // Appends the ranks in [begin, end) that are asked about to `out`.
  auto take = [&](int32_t begin, int32_t end, bool ids, std::vector<int32_t>* out) {
    if (filter == nullptr) {
      for (int32_t r = begin; r < end; ++r) out->push_back(ids ? trie.id(r) : r);
      return;
    }
    while (f < filter->size() && (*filter)[f] < begin) ++f;
    for (; f < filter->size() && (*filter)[f] < end; ++f) {
      out->push_back(ids ? trie.id((*filter)[f]) : (*filter)[f]);
    }
  };
  const auto& nodes = trie.nodes();
  auto n_nodes = static_cast<int32_t>(nodes.size());
  for (int32_t i = 0; i < n_nodes;) {
    const TokenTrie::Node& n = nodes[static_cast<size_t>(i)];
    if (filter != nullptr) {
      while (f < filter->size() && (*filter)[f] < n.rank_begin) ++f;
      if (f == filter->size()) break;
      if ((*filter)[f] >= n.sub_rank_end) {
        i = n.end;
        continue;
      }
    }
    auto d = static_cast<size_t>(n.depth);
    ids[d] = step_to(ids[d - 1], n.byte);
    const StackSet& cur = all[static_cast<size_t>(ids[d])];
    pending[d] = static_cast<char>(pending[d - 1] || cur.below);
    bool live = !cur.empty();
    if (live || cur.below) {
      take(n.rank_begin, n.own_rank_end, /*ids=*/true, &accepted);
    } else if (pending[d - 1]) {
      take(n.rank_begin, n.own_rank_end, /*ids=*/false, &uncertain);
    }
    if (!live) {
      if (pending[d]) take(n.own_rank_end, n.sub_rank_end, /*ids=*/false, &uncertain);
      i = n.end;
    } else {
      ++i;
    }
  }
  if (shallow != nullptr) {
    if (!shallow->accepted_bits.empty()) {
      auto entry = std::make_unique<TokenMaskEntry>();
      entry->accepted_bits = shallow->accepted_bits;
      for (int32_t id : accepted) {
        entry->accepted_bits[static_cast<size_t>(id) / 32] |= 1u
                                                              << (static_cast<uint32_t>(id) % 32);
      }
      entry->uncertain_ranks = std::move(uncertain);
      return entry;
    }
    accepted.insert(accepted.end(), shallow->accepted_ids.begin(), shallow->accepted_ids.end());
  }
  auto entry = std::make_unique<TokenMaskEntry>();
  auto words = static_cast<size_t>(vocab_->bitmask_words());
  if (accepted.size() > words) {
    entry->accepted_bits.assign(words, 0);
    for (int32_t id : accepted) {
      entry->accepted_bits[static_cast<size_t>(id) / 32] |= 1u << (static_cast<uint32_t>(id) % 32);
    }
  } else {
    entry->accepted_ids = std::move(accepted);
  }
  entry->uncertain_ranks = std::move(uncertain);
  return entry;
}

}  // namespace inferd::engine
