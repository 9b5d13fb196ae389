// engine/structured_output/constraint_to_gbnf.h — every constraint kind as
// GBNF text, the one input of the grammar engine (compiled_grammar.h).
//
// JSON Schema: the subset listed in docs/structured-output.md; any keyword
// that cannot be enforced exactly fails with INVALID_ARGUMENT naming the
// keyword and its JSON pointer ("unsupported keyword 'uniqueItems' at
// /properties/tags"), because an engine that lets invalid output through is
// wrong while one that refuses a schema up front is only incomplete.
// Annotation keywords (title, description, $comment, examples, ...) are
// accepted. Properties come in the schema's `properties` order.
// Whitespace: none between JSON tokens unless `allow_whitespace`, then the
// JSON standard's [ \t\n\r]* (bounded, see the .cc).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_TO_GBNF_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_TO_GBNF_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/request.h"

namespace inferd::engine {

// Dispatches on constraint.kind (kGrammar: the text as given).
absl::StatusOr<std::string> ConstraintToGbnf(const Constraint& constraint);

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json, bool allow_whitespace);
// Any JSON object (json_object / response_format json_object).
std::string JsonObjectGbnf(bool allow_whitespace);
// ECMAScript-style regex (the subset in docs/structured-output.md), matched
// against the whole output (implicitly anchored).
absl::StatusOr<std::string> RegexToGbnf(std::string_view regex);
absl::StatusOr<std::string> ChoiceToGbnf(const std::vector<std::string>& choices);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_TO_GBNF_H_
