// engine/spec_decode/draft_model_proposer.cc
#include "engine/spec_decode/draft_model_proposer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "engine/model/weight_store.h"
#include "kernels/ops.h"

namespace inferd::engine {

absl::StatusOr<std::unique_ptr<DraftModelProposer>> DraftModelProposer::Load(
    const std::string& dir, const ModelConfig& target, DType weights_dtype,
    std::shared_ptr<Backend> backend) {
  absl::StatusOr<ModelConfig> config = ModelConfig::FromDirectory(dir);
  if (!config.ok()) return config.status();
  if (config->vocab_size != target.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "draft model ", dir, " has vocab_size ", config->vocab_size, " but the target has ",
        target.vocab_size, ": a draft must share the target's tokenizer"));
  }
  if (config->max_position_embeddings < target.max_position_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat("draft model ", dir, " has a context of ", config->max_position_embeddings,
                     " tokens, shorter than the target's ", target.max_position_embeddings));
  }
  absl::StatusOr<std::unique_ptr<WeightStore>> weights = WeightStore::Open(dir);
  if (!weights.ok()) return weights.status();
  // The draft's weights in the target's dtype; its KV cache stays fp32.
  absl::StatusOr<std::unique_ptr<Transformer>> model =
      Transformer::Load(*config, **weights, weights_dtype, std::move(backend));
  if (!model.ok()) return model.status();
  return std::unique_ptr<DraftModelProposer>(new DraftModelProposer(*std::move(model)));
}

int64_t DraftModelProposer::KvBytesPerBlock(int32_t block_size) const {
  return KvCacheTensors::BytesPerBlock(model_->config().num_hidden_layers, block_size,
                                       model_->kv_dim());
}

void DraftModelProposer::AllocateKv(int64_t num_blocks, int32_t block_size) {
  block_size_ = block_size;
  kv_ = std::make_unique<KvCacheTensors>(model_->backend(), model_->config().num_hidden_layers,
                                         num_blocks, block_size, model_->kv_dim());
}

float* DraftModelProposer::RunBatch() {
  Backend& b = model_->backend();
  const int64_t rows = static_cast<int64_t>(batch_.logits_rows.size());
  EnsureRows(b, std::max<int64_t>(rows, 1), model_->config().vocab_size, &logits_, DType::kF32);
  const TensorView logits = logits_.view().Rows(0, rows);
  model_->Forward(batch_, kv_.get(), logits);
  return b.ReadToHost(logits, &host_logits_);
}

void DraftModelProposer::AppendRows(const Sequence& seq, const std::vector<int32_t>& table,
                                    int64_t from, int64_t to, absl::Span<const int32_t> tokens) {
  for (int64_t pos = from; pos < to; ++pos) {
    batch_.token_ids.push_back(tokens[pos - from]);
    batch_.positions.push_back(static_cast<int32_t>(pos));
    batch_.slot_mapping.push_back(table[pos / block_size_] * block_size_ +
                                  static_cast<int32_t>(pos % block_size_));
  }
  batch_.query_start.push_back(batch_.num_tokens());
  batch_.seq_lens.push_back(static_cast<int32_t>(to));
  batch_.logits_rows.push_back(batch_.num_tokens() - 1);
  (void)seq;
}

int32_t DraftModelProposer::Draw(ProposalRequest& r, SeqState& st, float* row) {
  const int64_t vocab = model_->config().vocab_size;
  const float t = r.sampling->temperature;
  if (!(t >= 1e-5f)) return static_cast<int32_t>(kernels::Argmax(row, vocab));
  // q = softmax(logits / T) over the whole vocabulary; the verifier needs
  // exactly the distribution the token was drawn from.
  std::vector<float>& probs = r.seq->draft.probs;
  const size_t base = probs.size();
  probs.resize(base + vocab);
  float* q = probs.data() + base;
  float max = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) max = std::max(max, std::isnan(row[i]) ? -INFINITY : row[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = std::isnan(row[i]) ? -INFINITY : row[i];
    q[i] = static_cast<float>(std::exp(static_cast<double>(l - max) / t));
    sum += q[i];
  }
  const double u = st.rng.Uniform() * sum;
  double acc = 0;
  int32_t token = static_cast<int32_t>(kernels::Argmax(row, vocab));
  for (int64_t i = 0; i < vocab; ++i) {
    acc += q[i];
    if (acc > u && q[i] > 0) {
      token = static_cast<int32_t>(i);
      break;
    }
  }
  for (int64_t i = 0; i < vocab; ++i) q[i] = static_cast<float>(q[i] / sum);
  return token;
}

void DraftModelProposer::Propose(const TargetStep& /*step*/, absl::Span<ProposalRequest> requests,
                                 KvCacheManager* kv_cache) {
  INFERD_CHECK(kv_ != nullptr) << "AllocateKv was not called";
  const int64_t vocab = model_->config().vocab_size;
  active_.clear();
  int32_t max_k = 0;
  for (ProposalRequest& r : requests) {
    Sequence& seq = *r.seq;
    seq.draft.Clear();
    auto [it, inserted] = seqs_.try_emplace(seq.id);
    SeqState& st = it->second;
    if (inserted) {
      // A seeded request drafts the same tokens whatever runs beside it.
      constexpr uint64_t kDraftStream = 0x9e3779b97f4a7c15ull;
      st.rng = Rng(r.sampling->seed.has_value() ? *r.sampling->seed ^ kDraftStream
                                                : kDraftStream * static_cast<uint64_t>(seq.id + 1));
    }
    if (inserted || st.preemptions != seq.num_preemptions) {  // new blocks: recompute
      st.computed = 0;
      st.preemptions = seq.num_preemptions;
    }
    // Only positions whose tokens the target confirmed hold valid draft KV.
    st.computed = std::min(st.computed, seq.num_computed_tokens);
    // The draft writes positions up to num_tokens - 2 + k.
    if (!kv_cache->Allocate(seq.id, seq.num_tokens() + r.max_tokens - 1)) continue;
    active_.push_back(&r);
    max_k = std::max(max_k, r.max_tokens);
  }
  if (active_.empty()) return;

  // Step 1: catch up to the last token and draft the first token.
  batch_.Clear();
  for (ProposalRequest* r : active_) {
    const Sequence& seq = *r->seq;
    SeqState& st = seqs_.at(seq.id);
    const std::vector<int32_t>& table = kv_cache->BlockTable(seq.id);
    batch_.max_blocks_per_seq =
        std::max<int32_t>(batch_.max_blocks_per_seq, static_cast<int32_t>(table.size()));
    AppendRows(seq, table, st.computed, seq.num_tokens(),
               absl::MakeConstSpan(seq.token_ids).subspan(st.computed));
    st.computed = seq.num_tokens();
  }
  // Block tables are [num_seqs, max_blocks]: re-pack with the final width.
  auto repack = [&] {
    const int32_t width = batch_.max_blocks_per_seq;
    std::vector<int32_t> packed(active_.size() * width, 0);
    for (size_t i = 0; i < active_.size(); ++i) {
      const std::vector<int32_t>& table = kv_cache->BlockTable(active_[i]->seq->id);
      std::copy(table.begin(), table.end(), packed.begin() + i * width);
    }
    batch_.block_tables = std::move(packed);
  };
  repack();
  float* logits = RunBatch();
  for (size_t i = 0; i < active_.size(); ++i) {
    ProposalRequest& r = *active_[i];
    r.seq->draft.tokens.push_back(Draw(r, seqs_.at(r.seq->id), logits + i * vocab));
  }

  // Steps 2..k: one token each for the sequences that want more.
  for (int32_t step = 1; step < max_k; ++step) {
    size_t kept = 0;
    for (ProposalRequest* r : active_) {
      if (r->max_tokens > step) active_[kept++] = r;
    }
    active_.resize(kept);
    if (active_.empty()) break;
    batch_.Clear();
    batch_.max_blocks_per_seq = 0;
    for (ProposalRequest* r : active_) {
      const Sequence& seq = *r->seq;
      SeqState& st = seqs_.at(seq.id);
      const std::vector<int32_t>& table = kv_cache->BlockTable(seq.id);
      batch_.max_blocks_per_seq =
          std::max<int32_t>(batch_.max_blocks_per_seq, static_cast<int32_t>(table.size()));
      const int32_t token = seq.draft.tokens.back();
      AppendRows(seq, table, st.computed, st.computed + 1, absl::MakeConstSpan(&token, 1));
      ++st.computed;
    }
    repack();
    logits = RunBatch();
    for (size_t i = 0; i < active_.size(); ++i) {
      ProposalRequest& r = *active_[i];
      r.seq->draft.tokens.push_back(Draw(r, seqs_.at(r.seq->id), logits + i * vocab));
    }
  }
}

}  // namespace inferd::engine
