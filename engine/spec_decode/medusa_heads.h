// engine/spec_decode/medusa_heads.h — Medusa-1 decoding heads
// (FasterDecoding/Medusa layout) on the target's final-norm hidden state.
//
// Head k (0-based) is one ResBlock then its own vocabulary projection:
//   logits_k(h) = W2_k · (h + SiLU(W1_k · h + b1_k))
// and predicts the token k + 2 positions after h's position (the target's LM
// head predicts the next one). Directory: config.json (medusa_num_heads,
// medusa_num_layers = 1; hidden_size / vocab_size when given must be the
// target's) and medusa_lm_head.safetensors with `{k}.0.linear.weight`
// [hidden, hidden], `{k}.0.linear.bias` [hidden], `{k}.1.weight` [vocab,
// hidden]. Weights are copied out at load as fp32 onto the target's backend
// (the device seam); the heads' matrices run there, the top-s selection on
// the host.
//
// Not thread-safe: the engine thread owns it and its scratch, which grows to
// the largest row count seen and is then reused (no allocation per call).
#ifndef INFERD_ENGINE_SPEC_DECODE_MEDUSA_HEADS_H_
#define INFERD_ENGINE_SPEC_DECODE_MEDUSA_HEADS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/model/config.h"
#include "engine/model/weight.h"

namespace inferd::engine {

class MedusaHeads {
 public:
  // Loads and validates `dir` against the target model's sizes. Errors name
  // the file and the field or tensor.
  // `backend` is the target's (a new CpuBackend when null).
  static absl::StatusOr<std::unique_ptr<MedusaHeads>> Load(
      const std::string& dir, const ModelConfig& target,
      std::shared_ptr<Backend> backend = nullptr);

  int32_t num_heads() const { return num_heads_; }
  int64_t hidden_size() const { return hidden_; }
  int64_t vocab_size() const { return vocab_; }
  Backend& backend() const { return *backend_; }

  // Every head's logits for each row.
  //   hidden: [n, hidden] final-norm hidden states on the backend's device
  //   out: [n, num_heads, vocab] on the host
  void Logits(TensorView hidden, float* out);

  // Top-s token ids of each head for each row, in descending logit order
  // (ties: the lower id first; NaN ranks below every number).
  //   hidden: [n, hidden] on the device   out_ids: [n, num_heads, top_s]
  //   out_logits: [n, num_heads, top_s] (the ids' logits) or nullptr
  // Requires 1 <= top_s <= vocab.
  void TopS(TensorView hidden, int32_t top_s, int32_t* out_ids, float* out_logits);

 private:
  explicit MedusaHeads(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}
  void EnsureScratch(int64_t n);
  // Head k's logits for the n rows of `hidden` whose ResBlock
  // pre-activations are in pre_, on the host: [n, vocab].
  const float* HeadLogits(int32_t k, TensorView hidden);

  std::shared_ptr<Backend> backend_;
  int32_t num_heads_ = 0;
  int64_t hidden_ = 0;
  int64_t vocab_ = 0;
  Weight w1_;  // [num_heads * hidden, hidden]: every head's ResBlock linear, stacked
  Weight b1_;  // [num_heads * hidden]
  Weight w2_;  // [num_heads * vocab, hidden]

  // Scratch on the device, sized for the largest n so far.
  int64_t capacity_ = 0;
  Tensor pre_;                      // [n, num_heads * hidden] W1 h + b1, all heads
  Tensor z_;                        // [n, hidden] one head's slice of pre_
  Tensor res_;                      // [n, hidden] one head's ResBlock output
  Tensor logits_;                   // [n, vocab] one head's logits
  std::vector<float> host_logits_;  // host staging of logits_
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_MEDUSA_HEADS_H_
