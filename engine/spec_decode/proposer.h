// engine/spec_decode/proposer.h — the interface every drafting method
// implements (DESIGN §6): n-gram lookup, a draft model, Medusa heads, MTP.
//
// Once per step, after the target's tokens were accepted, the engine hands
// the proposer what the step computed (so proposers that keep state beside
// the target — a draft model's or MTP module's KV — can stay in sync) and
// the sequences that will verify a draft in the next step. The proposer
// fills each one's Sequence::draft (or leaves it empty). Engine thread only.
#ifndef INFERD_ENGINE_SPEC_DECODE_PROPOSER_H_
#define INFERD_ENGINE_SPEC_DECODE_PROPOSER_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/backend/input_batch.h"
#include "engine/backend/tensor.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/request.h"
#include "engine/scheduler/sequence.h"

namespace inferd::engine {

// One sequence the target computed in the last step.
struct ComputedSequence {
  Sequence* seq = nullptr;  // token_ids already holds this step's accepted tokens
  int32_t row_begin = 0;    // its first row in the target batch
  // Rows (relative to row_begin) whose KV and hidden states are valid, in
  // position order: a prefill chunk's rows, or a decode's root row plus its
  // accepted draft rows. Row valid_rows[i] sits at position first_position + i.
  std::vector<int32_t> valid_rows;
  int64_t first_position = 0;
};

// What the target's last step left behind.
struct TargetStep {
  const InputBatch* batch = nullptr;
  // [batch->num_tokens(), hidden] on the target's device: final-norm hidden
  // states (what the LM head reads), valid rows only meaningful.
  TensorView hidden;
  absl::Span<const ComputedSequence> computed;
};

// A sequence that will verify a draft next step.
struct ProposalRequest {
  Sequence* seq = nullptr;  // decoding; its draft is empty on entry
  const SamplingParams* sampling = nullptr;
  int32_t max_tokens = 0;  // draft at most this many tokens (tree: this depth)
};

class Proposer {
 public:
  virtual ~Proposer() = default;

  // Tokens a draft of depth `depth` puts in the step beside the last real
  // one (a chain: depth; a tree: its nodes that deep). The policy prices
  // verification with it.
  virtual int64_t DraftTokensForDepth(int32_t depth) const { return depth; }

  // Extra KV bytes per block the proposer keeps in the shared block pool (a
  // draft model's or MTP module's own layers): the pool budget covers them.
  virtual int64_t KvBytesPerBlock(int32_t block_size) const { return 0; }
  // Allocates that KV memory for `num_blocks` blocks (called once).
  virtual void AllocateKv(int64_t num_blocks, int32_t block_size) {}

  // Catches up on the step (`step.computed` lists every sequence the target
  // computed that is still live; Forget was called for the others), then
  // drafts for `requests`. May grow a request's block table
  // through `kv_cache` to hold its draft positions; drafts nothing for a
  // sequence when that fails.
  virtual void Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
                       KvCacheManager* kv_cache) = 0;
  // Called instead of Propose when the policy drafts for nobody this step.
  // Proposers that keep state in sync may stop doing so (and then not draft
  // for the sequences that fell behind); the default keeps them in sync.
  virtual void Skip(const TargetStep& step, KvCacheManager* kv_cache) {
    Propose(step, {}, kv_cache);
  }
  // The sequence left the engine (finished, aborted) or was preempted:
  // forget what is kept for it.
  virtual void Forget(SeqId id) {}
  // The proposer will draft nothing more for the sequence (it stopped
  // keeping its state in sync during a Skip). The policy is not asked about
  // such sequences: a probe of theirs would measure plain steps.
  virtual bool Lapsed(SeqId id) const { return false; }
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_PROPOSER_H_
