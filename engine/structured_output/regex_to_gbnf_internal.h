// engine/structured_output/regex_to_gbnf_internal.h — the regex converter's
// entry point for the JSON Schema converter (`pattern`), private to
// engine/structured_output.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/structured_output/gbnf_writer.h"

namespace inferd::engine {

enum class RegexTarget {
  // The regex must match the whole output (RegexToGbnf).
  kWholeOutput,
  // JSON Schema `pattern`: the regex must match somewhere in a string
  // (unanchored search unless ^/$), and the GBNF describes that string's
  // JSON-encoded content (between the quotes).
  kJsonStringContent,
};

// A GBNF expression for `regex`; helper rules go into `rules`.
absl::StatusOr<std::string> RegexToGbnfExpression(std::string_view regex, RegexTarget target,
                                                  gbnf::RuleSet* rules);

// The body of the rule for one character of a JSON string's content (any
// escape form JSON allows), shared by both converters.
std::string JsonCharBody();

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_
