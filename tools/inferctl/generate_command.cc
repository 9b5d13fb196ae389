// tools/inferctl/generate_command.cc — `inferctl generate PROMPT`: stream the
// continuation; with --json, a JSON summary on the last line (prompt_ids from
// the Tokenize RPC, i.e. as the server feeds the prompt).
//
// The text is written as it arrives (tools and tests read the stream live).
// A call that fails before its first token (unreachable, refused) writes
// nothing to stdout; one cut mid-stream leaves the text already written, with
// no newline or JSON line after it. Either way the error goes to stderr and
// the exit code is 1.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/cli/constraint_flags.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/connection.h"
#include "tools/inferctl/flags.h"

namespace inferd::inferctl {

namespace {

constexpr double kTokenizeTimeoutSeconds = 10;

// The CLI/JSON spelling of a finish reason ("stop", "length", ...).
std::string FinishReasonName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_STOP:
      return "stop";
    case v1::FINISH_REASON_LENGTH:
      return "length";
    case v1::FINISH_REASON_STOP_STRING:
      return "stop_string";
    case v1::FINISH_REASON_ABORT:
      return "abort";
    default:
      break;
  }
  return "";
}

void SetConstraint(const cli::ConstraintArgs& c, v1::GenerateRequest* request) {
  using Kind = cli::ConstraintArgs::Kind;
  switch (c.kind) {
    case Kind::kNone:
      break;
    case Kind::kJsonSchema:
      request->set_json_schema(c.text);
      break;
    case Kind::kJsonObject:
      request->set_json_object(true);
      break;
    case Kind::kRegex:
      request->set_regex(c.text);
      break;
    case Kind::kGrammar:
      request->set_grammar(c.text);
      break;
    case Kind::kChoice:
      for (const std::string& choice : c.choices) request->mutable_choice()->add_choices(choice);
      break;
  }
  request->set_json_whitespace(c.json_whitespace);
}

}  // namespace

int RunGenerate(const cli::ParsedArgs& args) {
  if (args.positional.size() != 1) {
    absl::FPrintF(stderr, "inferctl generate: give the prompt as one argument\n");
    return 2;
  }
  const std::string& prompt = args.positional[0];
  absl::StatusOr<cli::ConstraintArgs> constraint = cli::ConstraintFromFlags(args);
  if (!constraint.ok()) {
    absl::FPrintF(stderr, "inferctl generate: %s\n", constraint.status().message());
    return 2;
  }
  const bool json = absl::GetFlag(FLAGS_json);
  auto stub = v1::Inference::NewStub(Connect());

  std::vector<int32_t> prompt_ids;
  if (json) {
    v1::TokenizeRequest request;
    request.set_text(prompt);
    v1::TokenizeResponse response;
    grpc::Status status =
        stub->Tokenize(MakeContext(kTokenizeTimeoutSeconds).get(), request, &response);
    if (!status.ok()) return ReportRpcError("generate", "Tokenize", status);
    prompt_ids.assign(response.token_ids().begin(), response.token_ids().end());
  }

  v1::GenerateRequest request;
  request.set_text(prompt);
  request.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  // Not given: the server applies the model's default (generation_config.json).
  if (args.specified.count("temperature") > 0) {
    request.set_temperature(absl::GetFlag(FLAGS_temperature));
  }
  if (const auto seed = absl::GetFlag(FLAGS_seed); seed.has_value()) request.set_seed(*seed);
  request.set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  SetConstraint(*constraint, &request);

  std::unique_ptr<grpc::ClientContext> context = MakeContext(0);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub->Generate(context.get(), request);
  std::vector<int32_t> output_ids;
  std::string text;
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  v1::Usage usage;
  for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
    output_ids.insert(output_ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    text += chunk.text();
    std::fwrite(chunk.text().data(), 1, chunk.text().size(), stdout);
    std::fflush(stdout);
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) reason = chunk.finish_reason();
    if (chunk.has_usage()) usage = chunk.usage();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    // On a terminal the error starts its own line; stdout keeps only the text.
    if (!text.empty()) absl::FPrintF(stderr, "\n");
    return ReportRpcError("generate", "Generate", status);
  }
  absl::PrintF("\n");
  if (json) {
    const nlohmann::json out = {{"prompt_ids", prompt_ids},
                                {"output_ids", output_ids},
                                {"text", text},
                                {"finish_reason", FinishReasonName(reason)},
                                {"num_steps", usage.num_steps()},
                                {"draft_tokens", usage.draft_tokens()},
                                {"accepted_draft_tokens", usage.accepted_draft_tokens()}};
    absl::PrintF("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return 0;
}

}  // namespace inferd::inferctl
