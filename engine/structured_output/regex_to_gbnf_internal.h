// engine/structured_output/regex_to_gbnf_internal.h — the regex converter's
// entry point for the JSON Schema converter (`pattern`), private to
// engine/structured_output.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_

#include <cstdint>
#include <optional>
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

// The lengths (in code points) of the strings the expression admits.
struct RegexLength {
  int64_t min = 0;
  std::optional<int64_t> max;  // nullopt: unbounded
};

// A GBNF expression for `regex`; helper rules go into `rules`. `length`,
// when given, receives the range of admitted string lengths. `clamp`, when
// given, restricts the language to strings of that length range where the
// regex has the shape ^C{m,n}$ (one repeated character class, anchored at
// both ends), and is then reset to nullopt-free {0, nullopt} to say so; for
// other shapes it is left unchanged (the caller decides).
absl::StatusOr<std::string> RegexToGbnfExpression(std::string_view regex, RegexTarget target,
                                                  gbnf::RuleSet* rules,
                                                  RegexLength* length = nullptr,
                                                  RegexLength* clamp = nullptr);

// The body of the rule for one character of a JSON string's content (any
// escape form JSON allows), shared by both converters.
std::string JsonCharBody();

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_TO_GBNF_INTERNAL_H_
