// engine/spec_decode/medusa_proposer.cc
#include "engine/spec_decode/medusa_proposer.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace inferd::engine {

absl::StatusOr<std::unique_ptr<MedusaProposer>> MedusaProposer::Load(
    const std::string& dir, const std::string& tree_spec, const ModelConfig& target,
    std::shared_ptr<Backend> backend) {
  absl::StatusOr<std::unique_ptr<MedusaHeads>> heads =
      MedusaHeads::Load(dir, target, std::move(backend));
  if (!heads.ok()) return heads.status();
  absl::StatusOr<MedusaTree> tree = ParseMedusaTree(tree_spec, (*heads)->num_heads());
  if (!tree.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--medusa-tree: ", tree.status().message()));
  }
  return std::unique_ptr<MedusaProposer>(new MedusaProposer(*std::move(heads), *std::move(tree)));
}

int64_t MedusaProposer::DraftTokensForDepth(int32_t depth) const {
  int64_t nodes = 0;
  for (int32_t j = 1; j < tree_.size(); ++j) nodes += tree_.depth[j] <= depth;
  return nodes;
}

void MedusaProposer::Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
                             KvCacheManager* /*kv_cache*/) {
  const int64_t hidden = heads_->hidden_size();
  // Each request's last verified row (the one that produced its last token);
  // row 0 stands in for a request not computed last step (no draft).
  rows_.assign(requests.size(), 0);
  std::vector<char> found(requests.size(), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].seq->draft.Clear();
    for (const ComputedSequence& c : step.computed) {
      if (c.seq != requests[i].seq || c.valid_rows.empty()) continue;
      rows_[i] = c.row_begin + c.valid_rows.back();
      found[i] = 1;
      break;
    }
  }
  const int64_t n = static_cast<int64_t>(requests.size());
  if (n == 0 || step.hidden.empty() || step.hidden.rows() == 0) return;
  Backend& b = heads_->backend();
  EnsureRows(b, n, hidden, &hidden_);
  b.GatherRows(step.hidden, b.UploadIndices(rows_, 0), hidden_.view().Rows(0, n));
  const int32_t heads = heads_->num_heads();
  top_ids_.resize(n * heads * tree_.top_s);
  heads_->TopS(hidden_.view().Rows(0, n), tree_.top_s, top_ids_.data(), nullptr);
  tokens_.resize(tree_.size() - 1);
  for (int64_t i = 0; i < n; ++i) {
    if (!found[i]) continue;  // not computed last step: no hidden state
    AssignTreeTokens(tree_, top_ids_.data() + i * heads * tree_.top_s, tokens_.data());
    SpecDraft& draft = requests[i].seq->draft;
    // Nodes are ordered by depth: the first DraftTokensForDepth(k) form the
    // tree cut at depth k.
    const int64_t keep = DraftTokensForDepth(requests[i].max_tokens);
    draft.tokens.assign(tokens_.begin(), tokens_.begin() + keep);
    draft.parents.assign(tree_.parents.begin() + 1, tree_.parents.begin() + 1 + keep);
  }
}

}  // namespace inferd::engine
