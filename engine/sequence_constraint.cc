// engine/sequence_constraint.cc — runs in the step loop: no logging, no
// allocation after the first steps (buffers are kept and reused).
#include "engine/sequence_constraint.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/check.h"

namespace inferd::engine {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void SetBit(std::vector<uint32_t>* mask, int32_t id, bool on) {
  if (id < 0 || static_cast<size_t>(id / 32) >= mask->size()) return;
  const uint32_t bit = 1u << (id % 32);
  uint32_t& word = (*mask)[static_cast<size_t>(id / 32)];
  word = on ? (word | bit) : (word & ~bit);
}
}  // namespace

SequenceConstraint::SequenceConstraint(std::shared_ptr<const CompiledGrammar> grammar,
                                       int32_t vocab_words, const SamplingParams& sampling,
                                       const std::vector<int32_t>& eos_ids)
    : matcher_(std::move(grammar)), bitmask_(static_cast<size_t>(vocab_words), 0) {
  end_ids_ = sampling.stop_token_ids;
  for (int32_t id : eos_ids) {
    if (!sampling.ignore_eos) {
      if (!Contains(end_ids_, id)) end_ids_.push_back(id);
    } else if (!Contains(end_ids_, id)) {
      banned_ids_.push_back(id);
    }
  }
}

bool SequenceConstraint::IsEndToken(int32_t token) const { return Contains(end_ids_, token); }

void SequenceConstraint::Mask(float* row, int64_t vocab) {
  matcher_.FillNextTokenBitmask(bitmask_.data());
  const bool can_end = matcher_.CanTerminate();
  for (int32_t id : end_ids_) SetBit(&bitmask_, id, can_end);
  for (int32_t id : banned_ids_) SetBit(&bitmask_, id, false);
  const int64_t bits = static_cast<int64_t>(bitmask_.size()) * 32;
  const int64_t covered = std::min(vocab, bits);
  for (int64_t w = 0; w * 32 < covered; ++w) {
    const uint32_t word = bitmask_[static_cast<size_t>(w)];
    if (word == 0xffffffffu) continue;
    const int64_t end = std::min<int64_t>(covered, (w + 1) * 32);
    if (word == 0) {  // the common case under a grammar: all 32 refused
      std::fill(row + w * 32, row + end, kNegInf);
      continue;
    }
    for (int64_t id = w * 32; id < end; ++id) {
      if (((word >> (id % 32)) & 1u) == 0) row[id] = kNegInf;
    }
  }
  for (int64_t id = covered; id < vocab; ++id) row[id] = kNegInf;
}

bool SequenceConstraint::IsAllowed(int32_t token) {
  if (Contains(banned_ids_, token)) return false;
  if (IsEndToken(token)) return matcher_.CanTerminate();
  return matcher_.IsTokenAllowed(token);
}

void SequenceConstraint::Accept(int32_t token) {
  INFERD_CHECK(!Done()) << "token " << token << " after the constraint ended";
  if (IsEndToken(token)) {
    INFERD_CHECK(matcher_.CanTerminate())
        << "end token " << token << " where the grammar cannot end";
    ended_ = true;
    return;
  }
  INFERD_CHECK(!Contains(banned_ids_, token)) << "token " << token << " is banned (ignore_eos)";
  INFERD_CHECK(matcher_.AcceptToken(token)) << "token " << token << " was masked out";
}

bool SequenceConstraint::Advance(int32_t token) {
  if (Contains(banned_ids_, token) || IsEndToken(token)) return false;
  return matcher_.AcceptToken(token);
}

void SequenceConstraint::PruneDraft(SpecDraft* draft) {
  const int32_t n = static_cast<int32_t>(draft->size());
  if (n == 0 || Done()) {
    draft->Clear();
    return;
  }
  if (!draft->is_tree()) {
    int32_t keep = 0;
    int32_t advanced = 0;
    for (; keep < n; ++keep) {
      const int32_t token = draft->tokens[keep];
      if (!IsAllowed(token)) {
        // A sampled draft keeps the token: each drafted token must stay a
        // draw from its q for speculative sampling to be lossless;
        // verification rejects it (p is 0 there) and draws from the residual.
        if (!draft->probs.empty()) ++keep;
        break;
      }
      if (IsEndToken(token)) {
        ++keep;  // the request ends on it: nothing after counts
        break;
      }
      INFERD_CHECK(Advance(token));
      ++advanced;
      if (matcher_.IsCompleted()) {
        ++keep;
        break;
      }
    }
    matcher_.Rollback(advanced);
    draft->Truncate(keep);
    return;
  }
  // A tree: depth-first from the root with the matcher advanced along the
  // current path, each child tested at its parent's state.
  children_.resize(static_cast<size_t>(n) + 1);
  for (auto& c : children_) c.clear();
  for (int32_t j = 1; j <= n; ++j) children_[draft->parents[j - 1]].push_back(j);
  keep_.assign(static_cast<size_t>(n) + 1, 0);
  keep_[0] = 1;
  PruneSubtree(*draft, 0);
  new_index_.assign(static_cast<size_t>(n) + 1, -1);
  new_index_[0] = 0;
  int32_t kept = 0;
  for (int32_t j = 1; j <= n; ++j) {
    if (!keep_[j]) continue;
    ++kept;
    new_index_[j] = kept;
    draft->tokens[kept - 1] = draft->tokens[j - 1];
    draft->parents[kept - 1] = new_index_[draft->parents[j - 1]];
  }
  draft->tokens.resize(kept);
  draft->parents.resize(kept);
  if (kept == 0) draft->Clear();
}

void SequenceConstraint::PruneSubtree(const SpecDraft& draft, int32_t node) {
  // Nodes after an end token or a completing token are never reached.
  if (node != 0 && (IsEndToken(draft.tokens[node - 1]) || matcher_.IsCompleted())) return;
  for (int32_t c : children_[node]) {
    const int32_t token = draft.tokens[c - 1];
    if (!IsAllowed(token)) continue;
    keep_[c] = 1;
    if (IsEndToken(token)) continue;
    INFERD_CHECK(Advance(token));
    PruneSubtree(draft, c);
    matcher_.Rollback(1);
  }
}

}  // namespace inferd::engine
