// engine/spec_decode/proposer_factory.h — builds the proposer that
// SpeculativeConfig names, loading its weights (draft model, Medusa heads,
// MTP module) and checking them against the target.
#ifndef INFERD_ENGINE_SPEC_DECODE_PROPOSER_FACTORY_H_
#define INFERD_ENGINE_SPEC_DECODE_PROPOSER_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/model/transformer.h"
#include "engine/spec_decode/proposer.h"
#include "engine/spec_decode/spec_config.h"

namespace inferd::engine {

// Null for SpecMethod::kOff. `target` must outlive the proposer.
absl::StatusOr<std::unique_ptr<Proposer>> CreateProposer(const SpeculativeConfig& config,
                                                         const Transformer& target);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_PROPOSER_FACTORY_H_
