// server/request_builder.cc
#include "server/request_builder.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace inferd::server {

namespace {

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

absl::StatusOr<std::vector<int32_t>> PromptIds(const v1::GenerateRequest& request,
                                               const engine::ModelInfo& model,
                                               const engine::Tokenizer& tokenizer) {
  switch (request.prompt_case()) {
    case v1::GenerateRequest::kText: {
      const bool special = request.has_add_special_tokens() ? request.add_special_tokens() : true;
      std::vector<int32_t> ids = tokenizer.Encode(request.text(), special);
      if (ids.empty()) {
        return Invalid(
            "text: the prompt encodes to no tokens (empty text is only valid when the tokenizer "
            "adds BOS and add_special_tokens is true)");
      }
      return ids;
    }
    case v1::GenerateRequest::kTokenIds: {
      const auto& ids = request.token_ids().ids();
      if (ids.empty()) return Invalid("token_ids: the prompt must have at least one token id");
      if (absl::Status s = CheckTokenIds(ids, model.vocab_size, "token_ids.ids"); !s.ok()) {
        return s;
      }
      return std::vector<int32_t>(ids.begin(), ids.end());
    }
    case v1::GenerateRequest::PROMPT_NOT_SET:
      break;
  }
  return Invalid("prompt: set either text or token_ids");
}

absl::Status CheckSpeculative(const v1::SpeculativeOverride& spec) {
  if (!v1::SpeculativeOverride::Mode_IsValid(spec.mode())) {
    return Invalid(absl::StrCat("speculative.mode: unknown value ", spec.mode()));
  }
  if (spec.has_num_speculative_tokens() &&
      (spec.num_speculative_tokens() < 0 ||
       spec.num_speculative_tokens() > kMaxSpeculativeTokens)) {
    return Invalid(absl::StrCat("speculative.num_speculative_tokens must be in [0, ",
                                kMaxSpeculativeTokens, "], got ", spec.num_speculative_tokens()));
  }
  return absl::OkStatus();
}

absl::StatusOr<engine::Constraint> ConstraintFrom(const v1::GenerateRequest& request) {
  using Kind = engine::Constraint::Kind;
  engine::Constraint c;
  switch (request.constraint_case()) {
    case v1::GenerateRequest::kJsonSchema:
      c.kind = Kind::kJsonSchema;
      c.text = request.json_schema();
      if (c.text.empty()) return Invalid("json_schema: the schema is empty");
      break;
    case v1::GenerateRequest::kJsonObject:
      if (!request.json_object()) {
        return Invalid("json_object: must be true when set (unset it for no constraint)");
      }
      c.kind = Kind::kJsonObject;
      break;
    case v1::GenerateRequest::kRegex:
      c.kind = Kind::kRegex;
      c.text = request.regex();
      if (c.text.empty()) return Invalid("regex: the regex is empty");
      break;
    case v1::GenerateRequest::kGrammar:
      c.kind = Kind::kGrammar;
      c.text = request.grammar();
      if (c.text.empty()) return Invalid("grammar: the grammar is empty");
      break;
    case v1::GenerateRequest::kChoice: {
      c.kind = Kind::kChoice;
      const auto& choices = request.choice().choices();
      if (choices.empty()) return Invalid("choice.choices: give at least one choice");
      for (int i = 0; i < choices.size(); ++i) {
        if (choices[i].empty()) {
          return Invalid(absl::StrCat("choice.choices[", i, "]: a choice must not be empty"));
        }
      }
      c.choices.assign(choices.begin(), choices.end());
      break;
    }
    case v1::GenerateRequest::CONSTRAINT_NOT_SET:
      break;
  }
  if (request.json_whitespace()) {
    if (c.kind != Kind::kJsonSchema && c.kind != Kind::kJsonObject) {
      return Invalid("json_whitespace: applies to json_schema and json_object only");
    }
    c.allow_whitespace = true;
  }
  return c;
}

}  // namespace

absl::Status CheckTokenIds(const google::protobuf::RepeatedField<int32_t>& ids, int64_t vocab_size,
                           const char* field) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      return Invalid(absl::StrCat(field, "[", i, "]: id ", ids[i],
                                  " is outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<engine::Request> BuildEngineRequest(const v1::GenerateRequest& request,
                                                   const engine::ModelInfo& model,
                                                   const engine::Tokenizer& tokenizer,
                                                   absl::Time now, absl::Time call_deadline,
                                                   int32_t max_tokens_limit) {
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return Invalid(absl::StrCat("request_id: at most ", kMaxRequestIdBytes, " bytes, got ",
                                request.request_id().size()));
  }
  if (absl::Status s = CheckSpeculative(request.speculative()); !s.ok()) return s;
  if (request.has_logprobs() && request.logprobs() < 0) {
    return Invalid(absl::StrCat("logprobs must be in [0, 20], got ", request.logprobs()));
  }

  engine::Request out;
  out.request_id = request.request_id();
  out.priority = request.priority();
  switch (request.speculative().mode()) {
    case v1::SpeculativeOverride::MODE_OFF:
      out.speculative.mode = engine::SpeculativeChoice::Mode::kOff;
      break;
    case v1::SpeculativeOverride::MODE_ON:
      out.speculative.mode = engine::SpeculativeChoice::Mode::kOn;
      break;
    default:
      break;
  }
  if (request.speculative().has_num_speculative_tokens()) {
    out.speculative.max_tokens = request.speculative().num_speculative_tokens();
  }
  out.deadline = call_deadline;
  if (request.has_timeout_ms() && request.timeout_ms() > 0) {
    out.deadline = std::min(out.deadline, now + absl::Milliseconds(request.timeout_ms()));
  }
  absl::StatusOr<std::vector<int32_t>> ids = PromptIds(request, model, tokenizer);
  if (!ids.ok()) return ids.status();
  out.prompt_ids = std::move(*ids);
  const int64_t prompt_len = static_cast<int64_t>(out.prompt_ids.size());
  if (prompt_len > model.max_context) {
    return Invalid(absl::StrCat("prompt: ", prompt_len, " tokens, more than ",
                                engine::DescribeContextLimit(model)));
  }

  engine::SamplingParams& s = out.sampling;
  if (request.has_max_tokens()) {
    if (request.max_tokens() < 1) {
      return Invalid(absl::StrCat("max_tokens must be >= 1, got ", request.max_tokens()));
    }
    if (max_tokens_limit > 0 && request.max_tokens() > max_tokens_limit) {
      return Invalid(absl::StrCat("max_tokens: ", request.max_tokens(),
                                  " is more than this server's limit of ", max_tokens_limit,
                                  " (--max-tokens-limit)"));
    }
    if (prompt_len + request.max_tokens() > model.max_context) {
      return Invalid(absl::StrCat("max_tokens: prompt (", prompt_len, " tokens) + max_tokens (",
                                  request.max_tokens(), ") exceeds ",
                                  engine::DescribeContextLimit(model)));
    }
    s.max_tokens = request.max_tokens();
  } else {
    if (prompt_len >= model.max_context) {
      return Invalid(absl::StrCat("prompt: ", prompt_len, " tokens fill ",
                                  engine::DescribeContextLimit(model), "; no room to generate"));
    }
    s.max_tokens = static_cast<int32_t>(model.max_context - prompt_len);
    if (max_tokens_limit > 0) s.max_tokens = std::min(s.max_tokens, max_tokens_limit);
  }
  // Absent fields are left to the model's defaults (Engine::Submit applies them).
  if (request.has_temperature()) s.temperature = request.temperature();
  if (request.has_top_p()) s.top_p = request.top_p();
  if (request.has_top_k()) s.top_k = request.top_k();
  if (request.has_min_p()) s.min_p = request.min_p();
  if (request.has_repetition_penalty()) s.repetition_penalty = request.repetition_penalty();
  out.unset_sampling = {.temperature = !request.has_temperature(),
                        .top_k = !request.has_top_k(),
                        .top_p = !request.has_top_p(),
                        .min_p = !request.has_min_p(),
                        .repetition_penalty = !request.has_repetition_penalty()};
  if (request.has_presence_penalty()) s.presence_penalty = request.presence_penalty();
  if (request.has_frequency_penalty()) s.frequency_penalty = request.frequency_penalty();
  if (request.has_seed()) s.seed = request.seed();
  s.stop.assign(request.stop().begin(), request.stop().end());
  s.stop_token_ids.assign(request.stop_token_ids().begin(), request.stop_token_ids().end());
  s.ignore_eos = request.ignore_eos();
  s.logprobs = request.has_logprobs() ? request.logprobs() : -1;
  if (absl::Status status = s.Validate(model.vocab_size); !status.ok()) return status;
  absl::StatusOr<engine::Constraint> constraint = ConstraintFrom(request);
  if (!constraint.ok()) return constraint.status();
  out.constraint = std::move(*constraint);
  return out;
}

}  // namespace inferd::server
