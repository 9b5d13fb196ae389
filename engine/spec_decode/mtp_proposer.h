// engine/spec_decode/mtp_proposer.h — drafting with a DeepSeek-V3-style MTP
// module (--speculative mtp).
//
// The module attends over its own inputs, so its one-layer KV (kept in the
// shared block pool beside the target's, like a draft model's) must cover
// every position of a sequence. Its input at position i needs the target's
// hidden state h_i, which exists only in the step that computed position i:
// so after every target step the module catches up on every position the
// step verified (prefill chunks included), whether or not anyone drafts.
// That costs one extra decoder layer per computed token; a DeepSeek-size
// target has 61 layers, stories260K 5. When the policy stops drafting (a
// loaded server), the catch-up stops too and those sequences draft no more. The catch-up's last row
// of each drafting sequence predicts the first draft token; further tokens chain the module on its
// own output (MtpModule's header).
//
// Blocks shared through the prefix cache hold the module's KV written by the
// sequence that computed them: identical, except for each block's last
// position, whose input includes the next block's first token. A sharer
// with a different next token reads a slightly different key there; that
// only changes drafts, never outputs (verification decides).
#ifndef INFERD_ENGINE_SPEC_DECODE_MTP_PROPOSER_H_
#define INFERD_ENGINE_SPEC_DECODE_MTP_PROPOSER_H_

#include <memory>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/transformer.h"
#include "engine/spec_decode/mtp_module.h"
#include "engine/spec_decode/proposer.h"

namespace inferd::engine {

class MtpProposer final : public Proposer {
 public:
  // `target` must outlive the proposer (its embedding and LM head are shared).
  static absl::StatusOr<std::unique_ptr<MtpProposer>> Load(const std::string& dir,
                                                           const Transformer& target);

  int64_t KvBytesPerBlock(int32_t block_size) const override;
  void AllocateKv(int64_t num_blocks, int32_t block_size) override;
  void Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
               KvCacheManager* kv_cache) override;
  // Stops the catch-up of every sequence of the step: they draft no more
  // (their module KV would have holes), so a policy that turns drafting off
  // under load also saves the module's layer.
  void Skip(const TargetStep& step, KvCacheManager* kv_cache) override;
  void Forget(SeqId id) override { lapsed_.erase(id); }
  bool Lapsed(SeqId id) const override { return lapsed_.contains(id); }

 private:
  MtpProposer(std::unique_ptr<MtpModule> module, const Transformer& target)
      : module_(std::move(module)), target_(target) {}

  // Appends one sequence's rows to batch_ (positions [first, first + n),
  // slots from its table) and registers its table.
  void AddSequence(const std::vector<int32_t>& table, int64_t first, int64_t n);
  void PackTables(const std::vector<const std::vector<int32_t>*>& tables);

  std::unique_ptr<MtpModule> module_;
  const Transformer& target_;
  std::unique_ptr<KvCacheTensors> kv_;
  int32_t block_size_ = 0;
  InputBatch batch_;  // scratch
  // Device scratch, grown on demand.
  Tensor hidden_;                                    // [rows, hidden] inputs h
  Tensor z_;                                         // [rows, hidden] outputs z
  Tensor logits_;                                    // [requests, vocab]
  std::vector<int32_t> rows_;                        // host: rows to gather
  std::vector<int32_t> next_;                        // host: [rows] S[i + 1]
  std::vector<float> host_logits_;                   // host staging of logits_
  std::vector<const std::vector<int32_t>*> tables_;  // scratch
  std::unordered_set<SeqId> lapsed_;                 // sequences whose catch-up stopped
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_MTP_PROPOSER_H_
