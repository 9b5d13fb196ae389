// engine/spec_decode/spec_config.h — how the server speculates (DESIGN §6):
// the proposer, how far it drafts, the Medusa tree, the acceptance rule and
// the policy that decides each step whether speculating pays.
#ifndef INFERD_ENGINE_SPEC_DECODE_SPEC_CONFIG_H_
#define INFERD_ENGINE_SPEC_DECODE_SPEC_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inferd::engine {

enum class SpecMethod { kOff, kNgram, kDraft, kMedusa, kMtp };
// "off", "ngram", "draft", "medusa", "mtp": the --speculative contract.
const char* SpecMethodName(SpecMethod method);
absl::StatusOr<SpecMethod> ParseSpecMethod(absl::string_view name);

enum class SpecPolicy {
  // Speculate only while, and only as far as, it is measured to raise
  // throughput (per batch size, batch 1 included: off or a draft length in
  // {1, 2, max}; spec_policy.h), while acceptance is above zero.
  kAdaptive,
  // Speculate for every decoding sequence that allows it.
  kAlways,
};
const char* SpecPolicyName(SpecPolicy policy);
absl::StatusOr<SpecPolicy> ParseSpecPolicy(absl::string_view name);

struct SpeculativeConfig {
  SpecMethod method = SpecMethod::kOff;
  // The draft model, Medusa heads or MTP directory (draft, medusa, mtp).
  std::string model_dir;
  int32_t num_speculative_tokens = 4;  // k: drafted tokens per step (tree depth for medusa)
  std::string medusa_tree = "default";
  // Medusa's typical acceptance (lossy, opt-in): epsilon, delta.
  std::optional<std::pair<float, float>> typical_acceptance;
  SpecPolicy policy = SpecPolicy::kAdaptive;
  // n-gram proposer: the longest and shortest suffix matched.
  int32_t ngram_max = 4;
  int32_t ngram_min = 1;

  bool enabled() const { return method != SpecMethod::kOff; }
};

// Largest k a request or the server may ask for.
inline constexpr int32_t kMaxSpeculativeTokens = 16;

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_SPEC_CONFIG_H_
