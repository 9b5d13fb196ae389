// server/generate_command.cc
#include "server/generate_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "engine/engine.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "nlohmann/json.hpp"
#include "server/engine_config_flags.h"
#include "server/flags.h"
#include "tools/cli/constraint_flags.h"

namespace inferd::server {

namespace {

// Flags not given are left to the model's defaults (Engine::Submit applies them).
engine::UnsetSamplingFields UnsetSamplingFromFlags(const cli::ParsedArgs& args) {
  auto unset = [&](const char* flag) { return args.specified.count(flag) == 0; };
  return {.temperature = unset("temperature"),
          .top_k = unset("top_k"),
          .top_p = unset("top_p"),
          .min_p = unset("min_p"),
          .repetition_penalty = true};  // no flag
}

engine::SamplingParams SamplingFromFlags(const cli::ParsedArgs& args) {
  engine::SamplingParams params;
  params.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  params.temperature = absl::GetFlag(FLAGS_temperature);
  params.top_k = absl::GetFlag(FLAGS_top_k);
  params.top_p = absl::GetFlag(FLAGS_top_p);
  params.min_p = absl::GetFlag(FLAGS_min_p);
  params.seed = absl::GetFlag(FLAGS_seed);
  if (auto it = args.repeated.find("stop"); it != args.repeated.end()) params.stop = it->second;
  params.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  return params;
}

engine::Constraint ToEngineConstraint(const cli::ConstraintArgs& args) {
  using In = cli::ConstraintArgs::Kind;
  using Out = engine::Constraint::Kind;
  engine::Constraint c;
  switch (args.kind) {
    case In::kNone:
      c.kind = Out::kNone;
      break;
    case In::kJsonSchema:
      c.kind = Out::kJsonSchema;
      break;
    case In::kJsonObject:
      c.kind = Out::kJsonObject;
      break;
    case In::kRegex:
      c.kind = Out::kRegex;
      break;
    case In::kGrammar:
      c.kind = Out::kGrammar;
      break;
    case In::kChoice:
      c.kind = Out::kChoice;
      break;
  }
  c.text = args.text;
  c.choices = args.choices;
  c.allow_whitespace = args.json_whitespace;
  return c;
}

int Fail(int code, const std::string& message) {
  absl::FPrintF(stderr, "inferd generate: %s\n", message);
  return code;
}

}  // namespace

int RunGenerate(const cli::ParsedArgs& args) {
  const bool has_text = args.specified.count("prompt") > 0;
  const bool has_ids = args.specified.count("prompt_ids") > 0;
  if (has_text == has_ids) return Fail(2, "give exactly one of --prompt or --prompt-ids");
  absl::StatusOr<cli::ConstraintArgs> constraint = cli::ConstraintFromFlags(args);
  if (!constraint.ok()) return Fail(2, std::string(constraint.status().message()));
  absl::StatusOr<engine::EngineConfig> config = EngineConfigFromFlags();
  if (!config.ok()) return Fail(2, std::string(config.status().message()));
  config->on_load_progress = [](const engine::LoadProgress& p) {
    absl::FPrintF(stderr, "inferd generate: %s\n", engine::FormatLoadProgress(p));
  };
  absl::StatusOr<std::unique_ptr<engine::Engine>> engine = engine::Engine::Create(*config);
  if (!engine.ok()) {
    return Fail(1, absl::StrFormat("cannot load model %s: %s", config->model_dir,
                                   engine.status().ToString()));
  }
  for (const std::string& warning : (*engine)->model_info().load_warnings) {
    absl::FPrintF(stderr, "inferd generate: warning: %s\n", warning);
  }

  engine::Request request;
  request.request_id = "generate";
  request.prompt_ids = has_ids ? absl::GetFlag(FLAGS_prompt_ids).ids
                               : (*engine)->tokenizer().Encode(absl::GetFlag(FLAGS_prompt),
                                                               /*add_special_tokens=*/true);
  request.sampling = SamplingFromFlags(args);
  request.unset_sampling = UnsetSamplingFromFlags(args);
  request.constraint = ToEngineConstraint(*constraint);
  const std::vector<int32_t> prompt_ids = request.prompt_ids;
  auto channel = std::make_shared<engine::OutputChannel>();
  if (absl::Status s = (*engine)->Submit(std::move(request), channel); !s.ok()) {
    return Fail(s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1, s.ToString());
  }

  const bool json = absl::GetFlag(FLAGS_json);
  std::vector<int32_t> output_ids;
  std::string text;
  engine::FinishReason reason = engine::FinishReason::kNone;
  engine::Usage usage;
  for (bool finished = false; !finished;) {
    engine::RequestOutput chunk = channel->WaitPop();
    output_ids.insert(output_ids.end(), chunk.token_ids.begin(), chunk.token_ids.end());
    text += chunk.text;
    if (!json && !chunk.text.empty()) {
      std::fwrite(chunk.text.data(), 1, chunk.text.size(), stdout);
      std::fflush(stdout);
    }
    if (!chunk.status.ok()) return Fail(1, chunk.status.ToString());
    finished = chunk.finished;
    reason = chunk.finish_reason;
    if (finished) usage = chunk.usage;
  }
  if (json) {
    const nlohmann::json out = {{"prompt_ids", prompt_ids},
                                {"output_ids", output_ids},
                                {"text", text},
                                {"finish_reason", engine::FinishReasonName(reason)},
                                {"num_steps", usage.num_steps},
                                {"draft_tokens", usage.draft_tokens},
                                {"accepted_draft_tokens", usage.accepted_draft_tokens}};
    // Invalid UTF-8 cannot occur (the engine emits whole characters); replace
    // rather than throw if it ever does.
    absl::PrintF("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    absl::PrintF("\n");
  }
  return 0;
}

}  // namespace inferd::server
