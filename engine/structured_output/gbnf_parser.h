// engine/structured_output/gbnf_parser.h — GBNF text (llama.cpp's dialect)
// to a syntax tree over bytes and Unicode code point classes.
//
// Grammar core only (compiled_grammar.cc and the tests use it). Rule
// references are resolved to rule indices; classes are normalised to sorted,
// disjoint code point ranges with negation already applied (surrogates are
// never in a class: only valid UTF-8 is ever accepted).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_PARSER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct GbnfExpr {
  enum class Kind { kSequence, kAlternatives, kLiteral, kClass, kRuleRef, kRepeat };
  Kind kind = Kind::kSequence;
  std::vector<GbnfExpr> children;  // sequence / alternatives items; repeat: one
  std::string literal;             // kLiteral: UTF-8 bytes
  // kClass: sorted disjoint inclusive code point ranges, no surrogates.
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  int32_t rule = -1;  // kRuleRef: index into GbnfGrammar::rules
  int32_t min = 0;    // kRepeat
  int32_t max = -1;   // kRepeat: -1 = unbounded
  int32_t line = 0;   // where the expression starts (1-based)
  int32_t col = 0;
};

struct GbnfRule {
  std::string name;
  GbnfExpr body;
  int32_t line = 0;
  int32_t col = 0;
};

struct GbnfGrammar {
  std::vector<GbnfRule> rules;
  int32_t root = -1;
};

// INVALID_ARGUMENT "GBNF <line>:<col> (rule <name>): <problem>" on syntax
// errors, undefined rules, duplicate rules, a missing `root`, bad escapes or
// code points, repetition bounds over `max_repeat`.
absl::StatusOr<GbnfGrammar> ParseGbnf(std::string_view text, int32_t max_repeat = 1 << 20);

// GBNF text for `grammar` that parses back to the same tree (tests).
std::string GbnfToString(const GbnfGrammar& grammar);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_PARSER_H_
