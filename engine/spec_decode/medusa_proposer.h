// engine/spec_decode/medusa_proposer.h — drafting with Medusa-1 heads
// (--speculative medusa): the heads read the target's final-norm hidden
// state at each sequence's last verified position, and their top-s
// candidates fill a fixed tree (--medusa-tree) whose nodes the next step
// verifies in one pass with tree attention. No extra KV: the heads are
// per-position MLPs.
#ifndef INFERD_ENGINE_SPEC_DECODE_MEDUSA_PROPOSER_H_
#define INFERD_ENGINE_SPEC_DECODE_MEDUSA_PROPOSER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/spec_decode/medusa_heads.h"
#include "engine/spec_decode/medusa_tree.h"
#include "engine/spec_decode/proposer.h"

namespace inferd::engine {

class MedusaProposer final : public Proposer {
 public:
  static absl::StatusOr<std::unique_ptr<MedusaProposer>> Load(const std::string& dir,
                                                              const std::string& tree_spec,
                                                              const ModelConfig& target,
                                                              std::shared_ptr<Backend> backend);

  const MedusaTree& tree() const { return tree_; }
  int64_t DraftTokensForDepth(int32_t depth) const override;
  void Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
               KvCacheManager* kv_cache) override;

 private:
  MedusaProposer(std::unique_ptr<MedusaHeads> heads, MedusaTree tree)
      : heads_(std::move(heads)), tree_(std::move(tree)) {}

  std::unique_ptr<MedusaHeads> heads_;
  MedusaTree tree_;
  Tensor hidden_;                 // scratch on the device: [requests, hidden]
  std::vector<int32_t> rows_;     // scratch: [requests] rows of the target's hidden states
  std::vector<int32_t> top_ids_;  // scratch: [requests, heads, top_s]
  std::vector<int32_t> tokens_;   // scratch: [tree size - 1]
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_MEDUSA_PROPOSER_H_
