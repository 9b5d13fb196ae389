// engine/spec_decode/proposer_factory.cc
#include "engine/spec_decode/proposer_factory.h"

#include "absl/strings/str_cat.h"
#include "engine/spec_decode/draft_model_proposer.h"
#include "engine/spec_decode/medusa_proposer.h"
#include "engine/spec_decode/mtp_proposer.h"
#include "engine/spec_decode/ngram_proposer.h"

namespace inferd::engine {

absl::StatusOr<std::unique_ptr<Proposer>> CreateProposer(const SpeculativeConfig& config,
                                                         const Transformer& target) {
  switch (config.method) {
    case SpecMethod::kOff:
      return std::unique_ptr<Proposer>();
    case SpecMethod::kNgram:
      return std::unique_ptr<Proposer>(
          std::make_unique<NgramProposer>(config.ngram_min, config.ngram_max));
    case SpecMethod::kDraft: {
      absl::StatusOr<std::unique_ptr<DraftModelProposer>> p = DraftModelProposer::Load(
          config.model_dir, target.config(), target.dtype(), target.shared_backend());
      if (!p.ok()) return p.status();
      return std::unique_ptr<Proposer>(*std::move(p));
    }
    case SpecMethod::kMedusa: {
      absl::StatusOr<std::unique_ptr<MedusaProposer>> p = MedusaProposer::Load(
          config.model_dir, config.medusa_tree, target.config(), target.shared_backend());
      if (!p.ok()) return p.status();
      return std::unique_ptr<Proposer>(*std::move(p));
    }
    case SpecMethod::kMtp: {
      absl::StatusOr<std::unique_ptr<MtpProposer>> p = MtpProposer::Load(config.model_dir, target);
      if (!p.ok()) return p.status();
      return std::unique_ptr<Proposer>(*std::move(p));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown speculative method ", static_cast<int>(config.method)));
}

}  // namespace inferd::engine
