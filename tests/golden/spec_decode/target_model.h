// tests/golden/spec_decode/target_model.h — the target model
// (../shared/models/stories260K) loaded with the engine's loader and run
// directly: whole sequences in one prefill (final-norm hidden states and
// logits of every position) and batched greedy continuations. The CPU kernels
// are batch-invariant, so a prefill's hidden states are bit for bit those
// decoding would produce.
#ifndef INFERD_TESTS_GOLDEN_SPEC_DECODE_TARGET_MODEL_H_
#define INFERD_TESTS_GOLDEN_SPEC_DECODE_TARGET_MODEL_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/input_batch.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"

namespace inferd::testing {

class TargetModel {
 public:
  static constexpr int32_t kBlockSize = 16;

  // Loads `dir`; on failure records it and returns null.
  static std::unique_ptr<TargetModel> Load(const std::string& dir, int32_t num_blocks) {
    auto config = engine::ModelConfig::FromDirectory(dir);
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    auto weights = engine::WeightStore::Open(dir);
    EXPECT_TRUE(weights.ok()) << weights.status();
    if (!weights.ok()) return nullptr;
    auto model = engine::Transformer::Load(*config, **weights);
    EXPECT_TRUE(model.ok()) << model.status();
    if (!model.ok()) return nullptr;
    std::unique_ptr<TargetModel> t(new TargetModel());
    t->config_ = *config;
    t->model_ = *std::move(model);
    t->num_blocks_ = num_blocks;
    t->kv_ =
        std::make_unique<engine::KvCacheTensors>(t->model_->backend(), config->num_hidden_layers,
                                                 num_blocks, kBlockSize, t->model_->kv_dim());
    return t;
  }

  const engine::ModelConfig& config() const { return config_; }
  engine::Transformer& model() { return *model_; }
  engine::KvCacheTensors* kv() { return kv_.get(); }
  int64_t hidden() const { return config_.hidden_size; }
  int64_t vocab() const { return config_.vocab_size; }

  // One prefill of `ids` (positions 0..n-1, blocks 0, 1, ...): the final-norm
  // hidden states [n, hidden] and the logits of every position [n, vocab].
  void Run(const std::vector<int32_t>& ids, std::vector<float>* hidden_out,
           std::vector<float>* logits) {
    const int32_t n = static_cast<int32_t>(ids.size());
    const int32_t blocks = (n + kBlockSize - 1) / kBlockSize;
    ASSERT_LE(blocks, num_blocks_);
    engine::InputBatch batch;
    batch.Clear();
    for (int32_t i = 0; i < n; ++i) {
      batch.token_ids.push_back(ids[i]);
      batch.positions.push_back(i);
      batch.slot_mapping.push_back(i);
      batch.logits_rows.push_back(i);
    }
    batch.query_start.push_back(n);
    batch.seq_lens.push_back(n);
    batch.max_blocks_per_seq = blocks;
    for (int32_t b = 0; b < blocks; ++b) batch.block_tables.push_back(b);
    logits->resize(static_cast<size_t>(n) * vocab());
    model_->Forward(batch, kv_.get(), engine::TensorView::HostF32(logits->data(), {n, vocab()}));
    const float* h = model_->hidden_states().f32();
    hidden_out->assign(h, h + n * hidden());
  }

  // Greedy continuations of every prompt (all in one batch per step), exactly
  // `max_new` ids each (BOS is not a stop).
  std::vector<std::vector<int32_t>> Greedy(const std::vector<std::vector<int32_t>>& prompts,
                                           int32_t max_new) {
    const int32_t num = static_cast<int32_t>(prompts.size());
    int32_t longest = 0;
    for (const auto& p : prompts) longest = std::max(longest, static_cast<int32_t>(p.size()));
    const int32_t per_seq = (longest + max_new + kBlockSize - 1) / kBlockSize;
    EXPECT_LE(per_seq * num, num_blocks_);
    if (per_seq * num > num_blocks_) return {};
    std::vector<std::vector<int32_t>> seqs = prompts;
    std::vector<std::vector<int32_t>> out(num);
    std::vector<float> logits;
    for (int32_t step = 0; step < max_new; ++step) {
      engine::InputBatch batch;
      batch.Clear();
      batch.max_blocks_per_seq = per_seq;
      for (int32_t s = 0; s < num; ++s) {
        const int32_t len = static_cast<int32_t>(seqs[s].size());
        const int32_t begin = step == 0 ? 0 : len - 1;
        for (int32_t p = begin; p < len; ++p) {
          batch.token_ids.push_back(seqs[s][p]);
          batch.positions.push_back(p);
          batch.slot_mapping.push_back((s * per_seq + p / kBlockSize) * kBlockSize +
                                       p % kBlockSize);
        }
        batch.query_start.push_back(batch.query_start.back() + (len - begin));
        batch.seq_lens.push_back(len);
        batch.logits_rows.push_back(batch.query_start.back() - 1);
        for (int32_t b = 0; b < per_seq; ++b) batch.block_tables.push_back(s * per_seq + b);
      }
      logits.resize(static_cast<size_t>(num) * vocab());
      model_->Forward(batch, kv_.get(), engine::TensorView::HostF32(logits.data(), {num, vocab()}));
      for (int32_t s = 0; s < num; ++s) {
        const int32_t next =
            static_cast<int32_t>(kernels::Argmax(logits.data() + s * vocab(), vocab()));
        seqs[s].push_back(next);
        out[s].push_back(next);
      }
    }
    return out;
  }

 private:
  TargetModel() = default;
  engine::ModelConfig config_;
  std::unique_ptr<engine::Transformer> model_;
  std::unique_ptr<engine::KvCacheTensors> kv_;
  int32_t num_blocks_ = 0;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_GOLDEN_SPEC_DECODE_TARGET_MODEL_H_
