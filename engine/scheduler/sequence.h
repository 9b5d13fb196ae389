// engine/scheduler/sequence.h — a request's token state as the scheduler sees it.
//
// The scheduler's only rule (vLLM v1): each step, a sequence's computed-token
// count catches up with its token count (prompt + output). A fresh prompt, a
// prefill chunk, a decode step, a recompute after preemption and a start from
// cached prefix blocks are all the same thing: num_tokens() -
// num_computed_tokens tokens still to compute.
// Owned by the engine; mutated only on the engine thread.
#ifndef INFERD_ENGINE_SCHEDULER_SEQUENCE_H_
#define INFERD_ENGINE_SCHEDULER_SEQUENCE_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "engine/kv_cache/block_hash.h"
#include "engine/kv_cache/kv_cache_manager.h"

namespace inferd::engine {

enum class SequenceStatus { kWaiting, kRunning, kFinished };

// Draft tokens proposed for a decoding sequence, verified in its next step
// (DESIGN §6). They are not part of token_ids: the step computes the last
// token plus these, and keeps what the acceptance rule accepts.
struct SpecDraft {
  // Node j + 1's token; node 0 (the root) is the sequence's last token.
  std::vector<int32_t> tokens;
  // Node j + 1's parent in [0, j + 1) (0: the root), topological order.
  // Empty: a chain (node j + 1's parent is node j).
  std::vector<int32_t> parents;
  // The distribution each chain token was drawn from, [tokens, vocab], when
  // a draft model sampled it; empty: the proposals are point masses.
  std::vector<float> probs;

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  bool is_tree() const { return !parents.empty(); }
  // Keeps the first n nodes (a prefix of a topological order is a tree).
  void Truncate(int64_t n) {
    if (n >= size()) return;
    const int64_t vocab = probs.empty() ? 0 : static_cast<int64_t>(probs.size()) / size();
    tokens.resize(n);
    if (!parents.empty()) parents.resize(n);
    if (!probs.empty()) probs.resize(n * vocab);
  }
  void Clear() {
    tokens.clear();
    parents.clear();
    probs.clear();
  }
};

struct Sequence {
  SeqId id = 0;
  int32_t priority = 0;  // lower is served first
  int64_t arrival = 0;   // monotonically increasing admission order
  absl::Time deadline = absl::InfiniteFuture();
  std::vector<int32_t> token_ids;  // prompt followed by generated tokens
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;  // tokens whose KV is in the cache
  // Prompt tokens found in the prefix cache when first scheduled (usage).
  int64_t num_cached_tokens = 0;
  int32_t num_preemptions = 0;
  bool scheduled_once = false;  // admitted at least once (prefix stats count once)
  // Chained hashes of the full blocks of token_ids, filled lazily by the KV
  // cache manager (empty when prefix caching is off).
  std::vector<BlockHash> block_hashes;
  SequenceStatus status = SequenceStatus::kWaiting;
  // Drafted tokens to verify in the next step (empty: a plain decode).
  SpecDraft draft;

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  // The prompt is computed: the next step decodes (and may verify a draft).
  bool decoding() const { return num_computed_tokens >= num_tokens() - 1; }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SCHEDULER_SEQUENCE_H_
