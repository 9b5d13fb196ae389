// engine/request.cc — validation of sampling parameters.
#include "engine/request.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace inferd::engine {

namespace {
constexpr int32_t kMaxLogprobs = 20;
constexpr size_t kMaxStopStrings = 16;
constexpr size_t kMaxStopStringBytes = 256;
constexpr size_t kMaxStopTokenIds = 64;

absl::Status Invalid(const std::string& msg) { return absl::InvalidArgumentError(msg); }
}  // namespace

absl::Status SamplingParams::Validate(int64_t vocab_size) const {
  if (max_tokens < 1) return Invalid(absl::StrCat("max_tokens must be >= 1, got ", max_tokens));
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    return Invalid(absl::StrCat("temperature must be a finite value >= 0, got ", temperature));
  }
  if (top_k < 0) return Invalid(absl::StrCat("top_k must be >= 0 (0 disables), got ", top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return Invalid(absl::StrCat("top_p must be in (0, 1], got ", top_p));
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return Invalid(absl::StrCat("min_p must be in [0, 1], got ", min_p));
  }
  if (!(std::isfinite(repetition_penalty) && repetition_penalty > 0.0f)) {
    return Invalid(absl::StrCat("repetition_penalty must be > 0, got ", repetition_penalty));
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return Invalid(absl::StrCat("presence_penalty must be in [-2, 2], got ", presence_penalty));
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return Invalid(absl::StrCat("frequency_penalty must be in [-2, 2], got ", frequency_penalty));
  }
  if (logprobs < -1 || logprobs > kMaxLogprobs) {
    return Invalid(absl::StrCat("logprobs must be in [0, ", kMaxLogprobs, "], got ", logprobs));
  }
  if (stop.size() > kMaxStopStrings) {
    return Invalid(absl::StrCat("at most ", kMaxStopStrings, " stop strings, got ", stop.size()));
  }
  for (const std::string& s : stop) {
    if (s.empty()) return Invalid("stop strings must not be empty");
    if (s.size() > kMaxStopStringBytes) {
      return Invalid(absl::StrCat("stop strings must be at most ", kMaxStopStringBytes, " bytes"));
    }
  }
  if (stop_token_ids.size() > kMaxStopTokenIds) {
    return Invalid(absl::StrCat("at most ", kMaxStopTokenIds, " stop_token_ids"));
  }
  for (int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return Invalid(absl::StrCat("stop_token_ids: id ", id, " is outside the vocabulary [0, ",
                                  vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kNone:
      break;
  }
  return "";
}

const char* ConstraintKindName(Constraint::Kind kind) {
  switch (kind) {
    case Constraint::Kind::kJsonSchema:
      return "json_schema";
    case Constraint::Kind::kJsonObject:
      return "json_object";
    case Constraint::Kind::kRegex:
      return "regex";
    case Constraint::Kind::kGrammar:
      return "grammar";
    case Constraint::Kind::kChoice:
      return "choice";
    case Constraint::Kind::kNone:
      break;
  }
  return "";
}

}  // namespace inferd::engine
