// tools/inferctl/flags.cc
#include "tools/inferctl/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "Address of the inferd server (HOST:PORT)");
ABSL_FLAG(double, timeout, 0,
          "Call deadline in seconds (0: none for generate, 10 for the other commands)");
ABSL_FLAG(int32_t, max_tokens, 256, "Most tokens to generate");
ABSL_FLAG(float, temperature, 1.0f,
          "Sampling temperature (0: greedy). Not given: the model's default from its "
          "generation_config.json, else 1");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "Sampling seed (default: a fresh random stream)");
ABSL_FLAG(bool, ignore_eos, false, "Keep generating past EOS");
ABSL_FLAG(bool, json, false,
          "After the streamed text and a newline, print one JSON object (prompt_ids, "
          "output_ids, text, finish_reason, num_steps, draft_tokens, accepted_draft_tokens) as the "
          "last line");
ABSL_FLAG(std::string, service, "",
          "Health service name: \"\" or inferd.v1.Inference (readiness), liveness");

namespace inferd::inferctl {

const cli::SubcommandSpec& GenerateSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "generate",
      .synopsis =
          "[--addr 127.0.0.1:50051] [--max-tokens 256] [--temperature T] [--seed S] "
          "[--ignore-eos] [--json] [--json-schema FILE|TEXT | --json-object | --regex R | "
          "--grammar FILE | --choice A --choice B...] [--json-whitespace] PROMPT",
      .summary = "Stream a continuation of PROMPT to stdout as it arrives.",
      .flags = {"addr", "timeout", "max_tokens", "temperature", "seed", "ignore_eos", "json",
                "json_schema", "json_object", "regex", "grammar", "choice", "json_whitespace",
                "tls_ca", "tls_cert", "tls_key", "api_key", "api_key_file"},
      .repeatable = {"choice"},
      .max_positional = 1,
  };
  return *spec;
}

const cli::SubcommandSpec& HealthSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "health",
      .synopsis = "[--addr 127.0.0.1:50051] [--service NAME]",
      .summary =
          "Print the server's health (SERVING, NOT_SERVING or SERVICE_UNKNOWN); exit 0 "
          "when it answered.",
      .flags = {"addr", "timeout", "service", "tls_ca", "tls_cert", "tls_key", "api_key",
                "api_key_file"},
      .repeatable = {},
      .max_positional = 0,
  };
  return *spec;
}

const cli::SubcommandSpec& TokenizeSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "tokenize",
      .synopsis = "[--addr 127.0.0.1:50051] TEXT",
      .summary =
          "Print the token ids of TEXT (BOS included as the model adds it), "
          "comma-separated.",
      .flags = {"addr", "timeout", "tls_ca", "tls_cert", "tls_key", "api_key", "api_key_file"},
      .repeatable = {},
      .max_positional = 1,
  };
  return *spec;
}

const cli::SubcommandSpec& InfoSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "info",
      .synopsis = "[--addr 127.0.0.1:50051]",
      .summary = "Print the model info and live engine counters as JSON.",
      .flags = {"addr", "timeout", "tls_ca", "tls_cert", "tls_key", "api_key", "api_key_file"},
      .repeatable = {},
      .max_positional = 0,
  };
  return *spec;
}

}  // namespace inferd::inferctl
