// engine/spec_decode/mtp_proposer.cc
#include "engine/spec_decode/mtp_proposer.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "kernels/ops.h"

namespace inferd::engine {

absl::StatusOr<std::unique_ptr<MtpProposer>> MtpProposer::Load(const std::string& dir,
                                                               const Transformer& target) {
  absl::StatusOr<std::unique_ptr<MtpModule>> module =
      MtpModule::Load(dir, target.config(), target.dtype(), target.shared_backend());
  if (!module.ok()) return module.status();
  return std::unique_ptr<MtpProposer>(new MtpProposer(*std::move(module), target));
}

int64_t MtpProposer::KvBytesPerBlock(int32_t block_size) const {
  return KvCacheTensors::BytesPerBlock(1, block_size, module_->kv_dim());
}

void MtpProposer::AllocateKv(int64_t num_blocks, int32_t block_size) {
  block_size_ = block_size;
  kv_ = std::make_unique<KvCacheTensors>(module_->backend(), 1, num_blocks, block_size,
                                         module_->kv_dim());
}

void MtpProposer::AddSequence(const std::vector<int32_t>& table, int64_t first, int64_t n) {
  for (int64_t pos = first; pos < first + n; ++pos) {
    batch_.positions.push_back(static_cast<int32_t>(pos));
    batch_.slot_mapping.push_back(table[pos / block_size_] * block_size_ +
                                  static_cast<int32_t>(pos % block_size_));
  }
  batch_.query_start.push_back(static_cast<int32_t>(batch_.positions.size()));
  batch_.seq_lens.push_back(static_cast<int32_t>(first + n));
  batch_.max_blocks_per_seq =
      std::max<int32_t>(batch_.max_blocks_per_seq, static_cast<int32_t>(table.size()));
  tables_.push_back(&table);
}

void MtpProposer::PackTables(const std::vector<const std::vector<int32_t>*>& tables) {
  const int32_t width = batch_.max_blocks_per_seq;
  batch_.block_tables.assign(tables.size() * width, 0);
  for (size_t i = 0; i < tables.size(); ++i) {
    std::copy(tables[i]->begin(), tables[i]->end(), batch_.block_tables.begin() + i * width);
  }
  // token_ids is not read by the module, but num_tokens() counts it.
  batch_.token_ids.assign(batch_.positions.size(), 0);
}

void MtpProposer::Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
                          KvCacheManager* kv_cache) {
  INFERD_CHECK(kv_ != nullptr) << "AllocateKv was not called";
  Backend& b = module_->backend();
  const int64_t hidden = module_->hidden_size();
  const int64_t vocab = module_->vocab_size();
  for (ProposalRequest& r : requests) r.seq->draft.Clear();

  // Which computed sequences draft, and room for their chained positions
  // (the chain writes positions up to num_tokens - 2 + k).
  std::vector<int32_t> want(step.computed.size(), 0);
  for (ProposalRequest& r : requests) {
    if (lapsed_.contains(r.seq->id)) continue;
    for (size_t c = 0; c < step.computed.size(); ++c) {
      if (step.computed[c].seq != r.seq) continue;
      if (kv_cache->Allocate(r.seq->id, r.seq->num_tokens() + r.max_tokens - 1)) {
        want[c] = r.max_tokens;
      }
      break;
    }
  }
  // Runs the module over batch_ with inputs hidden_[0, rows) and next_,
  // outputs z_[0, rows) and the logits of `logits_rows` (then on the host).
  auto run = [&](const std::vector<int32_t>& logits_rows) -> const float* {
    const int64_t rows = static_cast<int64_t>(next_.size());
    PackTables(tables_);
    EnsureRows(b, rows, hidden, &z_);
    const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(logits_rows.size()));
    EnsureRows(b, r, vocab, &logits_, DType::kF32);
    module_->Forward(batch_, hidden_.view().Rows(0, rows), b.UploadIndices(next_, 2),
                     target_.embed_tokens().view(), target_.lm_head().view(), kv_->layer(0),
                     logits_rows, logits_.view().Rows(0, r), z_.view().Rows(0, rows));
    return b.ReadToHost(logits_.view().Rows(0, r), &host_logits_);
  };

  // 1. Catch up on every verified row of the step; the last row of each
  //    drafting sequence predicts its first draft token.
  batch_.Clear();
  batch_.max_blocks_per_seq = 0;
  tables_.clear();
  rows_.clear();
  next_.clear();
  std::vector<int32_t> logits_rows;
  std::vector<size_t> drafting;  // index into step.computed, per logits row
  for (size_t c = 0; c < step.computed.size(); ++c) {
    const ComputedSequence& cs = step.computed[c];
    const int64_t n = static_cast<int64_t>(cs.valid_rows.size());
    if (n == 0 || lapsed_.contains(cs.seq->id)) continue;
    const Sequence& seq = *cs.seq;
    for (int64_t i = 0; i < n; ++i) {
      rows_.push_back(cs.row_begin + cs.valid_rows[i]);
      next_.push_back(seq.token_ids[cs.first_position + i + 1]);
    }
    AddSequence(kv_cache->BlockTable(seq.id), cs.first_position, n);
    if (want[c] > 0) {
      logits_rows.push_back(static_cast<int32_t>(batch_.positions.size()) - 1);
      drafting.push_back(c);
    }
  }
  if (batch_.positions.empty()) return;
  const int64_t rows = static_cast<int64_t>(rows_.size());
  EnsureRows(b, rows, hidden, &hidden_);
  b.GatherRows(step.hidden, b.UploadIndices(rows_, 1), hidden_.view().Rows(0, rows));
  const float* logits = run(logits_rows);
  if (drafting.empty()) return;

  // z of each drafting sequence's last row (in z_ at z_row[i]), and its first
  // draft token.
  std::vector<int32_t> z_row(logits_rows);
  for (size_t i = 0; i < drafting.size(); ++i) {
    step.computed[drafting[i]].seq->draft.tokens.push_back(
        static_cast<int32_t>(kernels::Argmax(logits + i * vocab, vocab)));
  }

  // 2. Chain: position p = num_tokens - 2 + d, input (z, draft token d).
  for (int32_t d = 1;; ++d) {
    batch_.Clear();
    batch_.max_blocks_per_seq = 0;
    tables_.clear();
    rows_.clear();
    next_.clear();
    logits_rows.clear();
    std::vector<size_t> active;
    for (size_t i = 0; i < drafting.size(); ++i) {
      const ComputedSequence& cs = step.computed[drafting[i]];
      if (want[drafting[i]] <= d) continue;
      const Sequence& seq = *cs.seq;
      rows_.push_back(z_row[i]);
      next_.push_back(seq.draft.tokens.back());
      AddSequence(kv_cache->BlockTable(seq.id), seq.num_tokens() - 2 + d, 1);
      logits_rows.push_back(static_cast<int32_t>(batch_.positions.size()) - 1);
      active.push_back(i);
    }
    if (active.empty()) break;
    // The inputs are gathered out of z_ before the module overwrites it.
    const int64_t n = static_cast<int64_t>(rows_.size());
    b.GatherRows(z_.view(), b.UploadIndices(rows_, 1), hidden_.view().Rows(0, n));
    logits = run(logits_rows);
    for (size_t a = 0; a < active.size(); ++a) {
      z_row[active[a]] = static_cast<int32_t>(a);
      step.computed[drafting[active[a]]].seq->draft.tokens.push_back(
          static_cast<int32_t>(kernels::Argmax(logits + a * vocab, vocab)));
    }
  }
}

void MtpProposer::Skip(const TargetStep& step, KvCacheManager* /*kv_cache*/) {
  for (const ComputedSequence& c : step.computed) lapsed_.insert(c.seq->id);
}

}  // namespace inferd::engine
