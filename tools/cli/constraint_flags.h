// tools/cli/constraint_flags.h — the structured-output flags of `inferd
// generate` and `inferctl generate`, one spelling for both:
//
//   --json-schema FILE|TEXT   a JSON Schema: TEXT when it starts with '{'
//                             (after blanks), else the path of a file
//   --json-object             any JSON object
//   --regex R                 a regex over the whole output
//   --grammar FILE            a GBNF grammar file (start rule `root`)
//   --choice A --choice B     exactly one of the given strings (repeatable)
//   --json-whitespace         JSON kinds: allow the standard's whitespace
//
// Generic like subcommand_flags.h (no engine or proto types): the caller
// turns ConstraintArgs into an engine::Constraint or a GenerateRequest.
#ifndef INFERD_TOOLS_CLI_CONSTRAINT_FLAGS_H_
#define INFERD_TOOLS_CLI_CONSTRAINT_FLAGS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "tools/cli/subcommand_flags.h"

ABSL_DECLARE_FLAG(std::string, json_schema);
ABSL_DECLARE_FLAG(bool, json_object);
ABSL_DECLARE_FLAG(std::string, regex);
ABSL_DECLARE_FLAG(std::string, grammar);
ABSL_DECLARE_FLAG(std::string, choice);  // repeatable: values come from ParsedArgs
ABSL_DECLARE_FLAG(bool, json_whitespace);

namespace inferd::cli {

// The absl names, for SubcommandSpec::flags ("choice" also goes in
// SubcommandSpec::repeatable), and their synopsis.
inline const std::vector<std::string>& ConstraintFlagNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "json_schema", "json_object", "regex", "grammar", "choice", "json_whitespace"};
  return *names;
}
inline constexpr char kConstraintSynopsis[] =
    "[--json-schema FILE|TEXT | --json-object | --regex R | --grammar FILE | "
    "--choice A --choice B...] [--json-whitespace]";

struct ConstraintArgs {
  enum class Kind { kNone, kJsonSchema, kJsonObject, kRegex, kGrammar, kChoice };
  Kind kind = Kind::kNone;
  std::string text;                  // the schema, regex or grammar text
  std::vector<std::string> choices;  // kChoice
  bool json_whitespace = false;
};

// Reads the flags above (files included). INVALID_ARGUMENT naming the flag:
// more than one constraint given, an unreadable file, --json-whitespace
// without a JSON constraint.
absl::StatusOr<ConstraintArgs> ConstraintFromFlags(const ParsedArgs& args);

}  // namespace inferd::cli

#endif  // INFERD_TOOLS_CLI_CONSTRAINT_FLAGS_H_
