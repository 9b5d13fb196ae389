// engine/spec_decode/spec_config.cc
#include "engine/spec_decode/spec_config.h"

#include "absl/strings/str_cat.h"

namespace inferd::engine {

const char* SpecMethodName(SpecMethod method) {
  switch (method) {
    case SpecMethod::kOff:
      return "off";
    case SpecMethod::kNgram:
      return "ngram";
    case SpecMethod::kDraft:
      return "draft";
    case SpecMethod::kMedusa:
      return "medusa";
    case SpecMethod::kMtp:
      return "mtp";
  }
  return "?";
}

absl::StatusOr<SpecMethod> ParseSpecMethod(absl::string_view name) {
  for (SpecMethod m : {SpecMethod::kOff, SpecMethod::kNgram, SpecMethod::kDraft,
                       SpecMethod::kMedusa, SpecMethod::kMtp}) {
    if (name == SpecMethodName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown speculative method \"", name,
                                                 "\" (expected off, ngram, draft, medusa or mtp)"));
}

const char* SpecPolicyName(SpecPolicy policy) {
  return policy == SpecPolicy::kAdaptive ? "adaptive" : "always";
}

absl::StatusOr<SpecPolicy> ParseSpecPolicy(absl::string_view name) {
  if (name == "adaptive") return SpecPolicy::kAdaptive;
  if (name == "always") return SpecPolicy::kAlways;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown speculative policy \"", name, "\" (expected adaptive or always)"));
}

}  // namespace inferd::engine
