// engine/structured_output/compiled_grammar.cc — CompileGbnf and the
// context-independent token mask cache.
#include "engine/structured_output/compiled_grammar.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/structured_output/canonical_states.h"
#include "engine/structured_output/compiled_grammar_internal.h"
#include "engine/structured_output/gbnf_parser.h"
#include "engine/structured_output/token_mask_walk.h"

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

CompiledGrammar::~CompiledGrammar() = default;

namespace {

// Process-wide entries by canonical key, shared by every grammar. Bounded:
// past kMaxShared entries it starts over (grammars keep the entries they
// hold).
constexpr size_t kMaxShared = 4096;
// A key meeting more states than this (within max_depth bytes) is not
// shared: its canonical form would cost more than the entry (a frame in a big object rule reaches
// the whole schema), and such keys seldom recur in another grammar. The shared ones are small:
// string, number, whitespace and bounded-length rules.
constexpr size_t kMaxCanonicalStates = 256;

struct SharedEntries {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const TokenMaskEntry>> map ABSL_GUARDED_BY(mu);
};

SharedEntries& Shared() {
  static auto* shared = new SharedEntries();
  return *shared;
}

// INFERD_MASK_WALK_LOG_US=N: each walk that takes N µs or more prints a line
// to stderr (µs, key frames' rules top first, the shallower entry's and
// the new entry's uncertain tokens). Diagnostics for the mask tail;
// loadtest/maskbench_walk_profile.py sums the lines by rule kind. -1: off.
double WalkLogThresholdUs() {
  static const double threshold = [] {
    const char* env = std::getenv("INFERD_MASK_WALK_LOG_US");
    return env != nullptr && *env != '\0' ? std::atof(env) : -1.0;
  }();
  return threshold;
}

void LogWalk(const GrammarAutomaton& a, const int32_t* key, int n, const TokenMaskEntry* shallow,
             const TokenMaskEntry& entry, double us) {
  std::string rules;
  for (int i = 0; i < n; ++i) {
    const int32_t rule = a.states[static_cast<size_t>(key[i])].rule;
    absl::StrAppend(&rules, i > 0 ? "<" : "", a.rule_names[static_cast<size_t>(rule)]);
  }
  std::fprintf(stderr, "mask-walk us=%.0f frames=%d shallow_uncertain=%zu uncertain=%zu %s\n", us,
               n, shallow != nullptr ? shallow->uncertain_ranks.size() : size_t{0},
               entry.uncertain_ranks.size(), rules.c_str());
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
  // Tokens read at most max_depth bytes: forms equal that far give equal
  // entries.
  if (!AppendCanonicalStates(automaton_, key, n, kMaxCanonicalStates, vocab_->trie().max_depth(),
                             &out)) {
    return std::string();
  }
  return out;
}

const TokenMaskEntry& CompiledGrammar::Entry(const int32_t* key, int n) const {
  std::string k(reinterpret_cast<const char*>(key), static_cast<size_t>(n) * sizeof(int32_t));
  // A key one frame shorter that had no canonical form: this one has none
  // either (its frames reach every state those reach, and more), so it is
  // not written again (a member list's keys reach their whole schema: the
  // form stops at kMaxCanonicalStates states, each time).
  bool unshared = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(k);
    if (it != entries_.end()) return *it->second.entry;
    if (n > 1) {
      auto up = entries_.find(k.substr(0, k.size() - sizeof(int32_t)));
      unshared = up != entries_.end() && up->second.unshared;
    }
  }
  // Computed (or found in the shared cache) outside this grammar's lock; a
  // concurrent duplicate is dropped.
  std::string canonical = unshared ? std::string() : CanonicalKey(key, n);
  unshared = canonical.empty();
  std::shared_ptr<const TokenMaskEntry> entry;
  SharedEntries& shared = Shared();
  if (!canonical.empty()) {
    absl::MutexLock lock(&shared.mu);
    auto it = shared.map.find(canonical);
    if (it != shared.map.end()) entry = it->second;
  }
  if (!entry) {
    // A deeper key refines only the shallower key's uncertain tokens.
    const TokenMaskEntry* shallow = n > 1 ? &Entry(key, n - 1) : nullptr;
    absl::MutexLock lock(&walk_mu_);
    if (walker_ == nullptr) walker_ = std::make_unique<TokenMaskWalker>(automaton_, *vocab_);
    const double log_us = WalkLogThresholdUs();
    const absl::Time start = log_us >= 0 ? absl::Now() : absl::InfinitePast();
    entry = walker_->Run(key, n, shallow);
    if (log_us >= 0) {
      const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
      if (us >= log_us) LogWalk(automaton_, key, n, shallow, *entry, us);
    }
    if (!canonical.empty()) {
      absl::MutexLock lock(&shared.mu);
      if (shared.map.size() >= kMaxShared) shared.map.clear();
      shared.map.try_emplace(std::move(canonical), entry);
    }
  }
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = entries_.try_emplace(std::move(k));
  if (fresh) it->second = Held{std::move(entry), unshared};
  return *it->second.entry;
}

const TokenMaskEntry& CompiledGrammar::SiblingsEntry(const int32_t* tops, int n) const {
  // Tagged by a leading -1, which no key of Entry holds.
  std::string k(sizeof(int32_t), '\xff');
  k.append(reinterpret_cast<const char*>(tops), static_cast<size_t>(n) * sizeof(int32_t));
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(k);
    if (it != entries_.end()) return *it->second.entry;
  }
  std::shared_ptr<const TokenMaskEntry> entry;
  {
    absl::MutexLock lock(&walk_mu_);
    if (walker_ == nullptr) walker_ = std::make_unique<TokenMaskWalker>(automaton_, *vocab_);
    const double log_us = WalkLogThresholdUs();
    const absl::Time start = log_us >= 0 ? absl::Now() : absl::InfinitePast();
    entry = walker_->RunSiblings(tops, n);
    if (log_us >= 0) {
      const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
      if (us >= log_us) LogWalk(automaton_, tops, 1, nullptr, *entry, us);
    }
  }
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = entries_.try_emplace(std::move(k));
  if (fresh) it->second = Held{std::move(entry), true};
  return *it->second.entry;
}

}  // namespace inferd::engine
