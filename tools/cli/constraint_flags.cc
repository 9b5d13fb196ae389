// tools/cli/constraint_flags.cc
#include "tools/cli/constraint_flags.h"

#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, json_schema, "",
          "Structured output: a JSON Schema the output must satisfy, as TEXT (starting with "
          "'{') or the path of a FILE");
ABSL_FLAG(bool, json_object, false, "Structured output: the output is a JSON object");
ABSL_FLAG(std::string, regex, "",
          "Structured output: a regex (ECMAScript subset) the whole output must match");
ABSL_FLAG(std::string, grammar, "",
          "Structured output: a GBNF grammar FILE (llama.cpp's dialect, start rule root)");
ABSL_FLAG(std::string, choice, "",
          "Structured output: the output is exactly one of the strings given (repeat: "
          "--choice A --choice B)");
ABSL_FLAG(bool, json_whitespace, false,
          "Structured output, --json-schema/--json-object: allow the JSON standard's "
          "whitespace between tokens (default: compact)");

namespace inferd::cli {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  return text.str();
}

}  // namespace

absl::StatusOr<ConstraintArgs> ConstraintFromFlags(const ParsedArgs& args) {
  using Kind = ConstraintArgs::Kind;
  ConstraintArgs out;
  int given = 0;
  auto has = [&](const char* name) { return args.specified.count(name) > 0; };
  if (has("json_schema")) {
    ++given;
    out.kind = Kind::kJsonSchema;
    const std::string value = absl::GetFlag(FLAGS_json_schema);
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(value), "{")) {
      out.text = value;
    } else {
      absl::StatusOr<std::string> text = ReadFile("json-schema", value);
      if (!text.ok()) return text.status();
      out.text = std::move(*text);
    }
  }
  if (has("json_object") && absl::GetFlag(FLAGS_json_object)) {
    ++given;
    out.kind = Kind::kJsonObject;
  }
  if (has("regex")) {
    ++given;
    out.kind = Kind::kRegex;
    out.text = absl::GetFlag(FLAGS_regex);
  }
  if (has("grammar")) {
    ++given;
    out.kind = Kind::kGrammar;
    absl::StatusOr<std::string> text = ReadFile("grammar", absl::GetFlag(FLAGS_grammar));
    if (!text.ok()) return text.status();
    out.text = std::move(*text);
  }
  if (auto it = args.repeated.find("choice"); it != args.repeated.end() && !it->second.empty()) {
    ++given;
    out.kind = Kind::kChoice;
    out.choices = it->second;
  }
  if (given > 1) {
    return absl::InvalidArgumentError(
        "give at most one of --json-schema, --json-object, --regex, --grammar, --choice");
  }
  out.json_whitespace = has("json_whitespace") && absl::GetFlag(FLAGS_json_whitespace);
  if (out.json_whitespace && out.kind != Kind::kJsonSchema && out.kind != Kind::kJsonObject) {
    return absl::InvalidArgumentError("--json-whitespace needs --json-schema or --json-object");
  }
  return out;
}

}  // namespace inferd::cli
