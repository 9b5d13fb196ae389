// engine/structured_output/constraint_to_gbnf.cc — dispatch on the
// constraint kind; choices and any-JSON-object (the other kinds have their
// own files).
#include "engine/structured_output/constraint_to_gbnf.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/structured_output/gbnf_writer.h"

namespace inferd::engine {

absl::StatusOr<std::string> ChoiceToGbnf(const std::vector<std::string>& choices) {
  if (choices.empty()) return absl::InvalidArgumentError("choice: the list of choices is empty");
  std::set<std::string> seen;
  std::vector<std::string> alts;
  for (size_t i = 0; i < choices.size(); ++i) {
    const std::string& c = choices[i];
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < c.size()) {
      if (!gbnf::DecodeUtf8(c, &pos, &cp)) {
        return absl::InvalidArgumentError(
            absl::StrCat("choice ", i, " is not valid UTF-8 (byte ", pos, ")"));
      }
    }
    if (seen.insert(c).second) alts.push_back(gbnf::Literal(c));
  }
  std::string out = absl::StrCat("root ::= ", absl::StrJoin(alts, " | "), "\n");
  if (static_cast<int64_t>(out.size()) > gbnf::kMaxGbnfBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("choice: the choices take more than ", gbnf::kMaxGbnfBytes, " bytes"));
  }
  return out;
}

std::string JsonObjectGbnf(bool allow_whitespace) {
  absl::StatusOr<std::string> g = JsonSchemaToGbnf(R"({"type":"object"})", allow_whitespace);
  return g.ok() ? *g : std::string();  // a fixed schema: always ok (tested)
}

absl::StatusOr<std::string> ConstraintToGbnf(const Constraint& constraint) {
  switch (constraint.kind) {
    case Constraint::Kind::kNone:
      return absl::InvalidArgumentError("no constraint to translate");
    case Constraint::Kind::kJsonSchema:
      return JsonSchemaToGbnf(constraint.text, constraint.allow_whitespace);
    case Constraint::Kind::kJsonObject:
      return JsonObjectGbnf(constraint.allow_whitespace);
    case Constraint::Kind::kRegex:
      return RegexToGbnf(constraint.text);
    case Constraint::Kind::kGrammar:
      return constraint.text;
    case Constraint::Kind::kChoice:
      return ChoiceToGbnf(constraint.choices);
  }
  return absl::InvalidArgumentError("unknown constraint kind");
}

}  // namespace inferd::engine
