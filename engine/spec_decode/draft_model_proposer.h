// engine/spec_decode/draft_model_proposer.h — drafting with a smaller model
// that shares the target's tokenizer (--speculative draft).
//
// The draft model keeps its own KV layers in the same block pool: a block
// holds the target's K/V and the draft's for the same positions, so the
// draft follows the target's block tables and the pool budget covers both.
// Each sequence remembers how many positions of draft KV are valid; the
// draft catches up lazily, only when asked to propose (so a policy that
// stops speculating costs nothing), then runs k single-token steps,
// batched across sequences. After verification only the positions whose
// tokens were confirmed stay valid (rejected drafts are recomputed from the
// corrected token). Draft KV in blocks shared through the prefix cache is
// never trusted: a sequence recomputes its draft KV from position 0, writing
// the values its sharers wrote (the same tokens give the same bits).
#ifndef INFERD_ENGINE_SPEC_DECODE_DRAFT_MODEL_PROPOSER_H_
#define INFERD_ENGINE_SPEC_DECODE_DRAFT_MODEL_PROPOSER_H_

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/transformer.h"
#include "engine/sampling/rng.h"
#include "engine/spec_decode/proposer.h"

namespace inferd::engine {

class DraftModelProposer final : public Proposer {
 public:
  // Loads the draft from `dir` onto `backend` (the target's) (weights as
  // `weights_dtype`: the target's)
  // and checks it can draft for `target`.
  static absl::StatusOr<std::unique_ptr<DraftModelProposer>> Load(const std::string& dir,
                                                                  const ModelConfig& target,
                                                                  DType weights_dtype,
                                                                  std::shared_ptr<Backend> backend);

  int64_t KvBytesPerBlock(int32_t block_size) const override;
  void AllocateKv(int64_t num_blocks, int32_t block_size) override;
  void Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
               KvCacheManager* kv_cache) override;
  void Forget(SeqId id) override { seqs_.erase(id); }

 private:
  explicit DraftModelProposer(std::unique_ptr<Transformer> model) : model_(std::move(model)) {}

  struct SeqState {
    int64_t computed = 0;     // positions of valid draft KV
    int32_t preemptions = 0;  // Sequence::num_preemptions when last seen
    Rng rng{0};
  };
  // Appends seq's positions [from, to) (token ids from `tokens`) to batch_.
  void AppendRows(const Sequence& seq, const std::vector<int32_t>& table, int64_t from, int64_t to,
                  absl::Span<const int32_t> tokens);
  // Draws the next draft token from logits row `row` for request r.
  int32_t Draw(ProposalRequest& r, SeqState& st, float* row);

  std::unique_ptr<Transformer> model_;
  std::unique_ptr<KvCacheTensors> kv_;
  int32_t block_size_ = 0;
  std::unordered_map<SeqId, SeqState> seqs_;
  InputBatch batch_;                // scratch
  Tensor logits_;                   // scratch: [requests, vocab] on the device
  std::vector<float> host_logits_;  // host staging of logits_
  // Runs batch_ and returns its logits on the host: [logits_rows, vocab].
  float* RunBatch();
  std::vector<ProposalRequest*> active_;  // scratch
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_DRAFT_MODEL_PROPOSER_H_
