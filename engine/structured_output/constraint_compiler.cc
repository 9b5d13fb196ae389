// engine/structured_output/constraint_compiler.cc — ConstraintToGbnf +
// CompileGbnf behind an LRU cache of results and errors.
//
// The cache key is the constraint's kind, its text (length-prefixed), its
// choices (each length-prefixed), allow_whitespace and the vocabulary's
// fingerprint; equal keys mean equal constraints, never a hash collision.
// Two threads asking for the same new constraint at once may both compile
// it; the second result replaces nothing (the first one cached wins), so
// every caller gets a grammar equal in meaning. Compilation itself runs
// outside the lock, so a slow constraint never blocks other submitters.
#include "engine/structured_output/constraint_compiler.h"

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/check.h"
#include "engine/structured_output/constraint_to_gbnf.h"

namespace inferd::engine {
namespace {

// Constraint text (a schema, regex or grammar) and the choices together
// above this (512 KiB) are refused before any parsing: real-world schemas
// stay far below, and a translator's cost grows with its input.
constexpr size_t kMaxConstraintBytes = 512 << 10;
constexpr size_t kMaxChoices = 4096;

void AppendSized(std::string* key, std::string_view s) {
  const uint64_t n = s.size();
  key->append(reinterpret_cast<const char*>(&n), sizeof(n));
  key->append(s);
}

std::string CacheKey(const Constraint& c, uint64_t fingerprint) {
  std::string key;
  key.reserve(c.text.size() + 32);
  key.push_back(static_cast<char>(c.kind));
  key.push_back(c.allow_whitespace ? 1 : 0);
  key.append(reinterpret_cast<const char*>(&fingerprint), sizeof(fingerprint));
  AppendSized(&key, c.text);
  const uint64_t num_choices = c.choices.size();
  key.append(reinterpret_cast<const char*>(&num_choices), sizeof(num_choices));
  for (const std::string& choice : c.choices) AppendSized(&key, choice);
  return key;
}

absl::Status CheckSize(const Constraint& c) {
  size_t bytes = c.text.size();
  for (const std::string& choice : c.choices) bytes += choice.size();
  if (bytes > kMaxConstraintBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the ", ConstraintKindName(c.kind),
                                                   " constraint is ", bytes,
                                                   " bytes; the limit is ", kMaxConstraintBytes));
  }
  if (c.choices.size() > kMaxChoices) {
    return absl::InvalidArgumentError(absl::StrCat("the choice constraint has ", c.choices.size(),
                                                   " choices; the limit is ", kMaxChoices));
  }
  return absl::OkStatus();
}

}  // namespace

using CompileResult = absl::StatusOr<std::shared_ptr<const CompiledGrammar>>;

struct ConstraintCompiler::Impl {
  std::shared_ptr<const TokenVocabulary> vocab;
  GrammarLimits limits;
  size_t max_cached;

  absl::Mutex mu;
  // Most recently used first; the map points into the list.
  std::list<std::pair<std::string, CompileResult>> lru ABSL_GUARDED_BY(mu);
  std::unordered_map<std::string_view, std::list<std::pair<std::string, CompileResult>>::iterator>
      index ABSL_GUARDED_BY(mu);

  CompileResult CompileUncached(const Constraint& c) const {
    if (absl::Status s = CheckSize(c); !s.ok()) return s;
    absl::StatusOr<std::string> gbnf = ConstraintToGbnf(c);
    if (!gbnf.ok()) return gbnf.status();
    if (static_cast<int64_t>(gbnf->size()) > limits.max_grammar_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", ConstraintKindName(c.kind), " constraint translates to a grammar of ",
          gbnf->size(), " bytes; the limit is ", limits.max_grammar_bytes));
    }
    CompileResult grammar = CompileGbnf(*gbnf, vocab, limits);
    if (!grammar.ok() && grammar.status().code() != absl::StatusCode::kInvalidArgument) {
      // Bounds and internal failures are still the constraint's problem to
      // the client; keep the message, name the code's class.
      return absl::InvalidArgumentError(grammar.status().message());
    }
    return grammar;
  }
};

ConstraintCompiler::ConstraintCompiler(std::shared_ptr<const TokenVocabulary> vocab,
                                       GrammarLimits limits, int max_cached)
    : impl_(std::make_unique<Impl>()) {
  INFERD_CHECK(vocab != nullptr);
  INFERD_CHECK_GE(max_cached, 0);
  impl_->vocab = std::move(vocab);
  impl_->limits = limits;
  impl_->max_cached = static_cast<size_t>(max_cached);
}

ConstraintCompiler::~ConstraintCompiler() = default;

CompileResult ConstraintCompiler::Compile(const Constraint& constraint) {
  INFERD_CHECK(constraint.active());
  Impl& d = *impl_;
  std::string key = CacheKey(constraint, d.vocab->fingerprint());
  {
    absl::MutexLock lock(&d.mu);
    auto it = d.index.find(key);
    if (it != d.index.end()) {
      d.lru.splice(d.lru.begin(), d.lru, it->second);
      return it->second->second;
    }
  }
  CompileResult result = d.CompileUncached(constraint);
  if (d.max_cached == 0) return result;
  absl::MutexLock lock(&d.mu);
  auto it = d.index.find(key);
  if (it != d.index.end()) {  // another thread compiled it meanwhile
    d.lru.splice(d.lru.begin(), d.lru, it->second);
    return it->second->second;
  }
  d.lru.emplace_front(std::move(key), result);
  d.index.emplace(std::string_view(d.lru.front().first), d.lru.begin());
  while (d.lru.size() > d.max_cached) {
    d.index.erase(std::string_view(d.lru.back().first));
    d.lru.pop_back();
  }
  return result;
}

}  // namespace inferd::engine
