// engine/structured_output/regex_parser.h — the regex converter's parser
// (private to engine/structured_output): an ECMAScript-style regex
// (docs/structured-output.md lists the subset) as a small tree of code
// point sets, concatenations, alternations, bounded repetitions and
// anchors; regex_to_gbnf.cc writes that tree out as GBNF.
//
// Where ECMAScript and Python's `re` (the validator most JSON Schema users
// check against) disagree on a shorthand, a set holds the intersection of
// the two languages: \d is [0-9], \w is [A-Za-z0-9_], \s the white space
// both agree on, `.` excludes \n \r U+2028 U+2029, and the negations are
// the complements of both readings. The grammar then never admits a string
// that either engine would reject.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_PARSER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_PARSER_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/structured_output/gbnf_writer.h"

namespace inferd::engine::regex {

// Largest {m,n} bound accepted.
inline constexpr int kMaxRepeat = 1000;
// A repetition's offset: it has none of its own (it follows its atom).
inline constexpr size_t kQuantifiedOffset = static_cast<size_t>(-1);

struct Node {
  enum class Kind { kSet, kConcat, kAlt, kRepeat, kStart, kEnd };
  Kind kind = Kind::kConcat;
  gbnf::CodepointSet set;  // kSet (the code points accepted by both readings)
  std::vector<Node> kids;
  int min = 0;
  int max = -1;       // kRepeat: -1 = unbounded
  size_t offset = 0;  // in the regex's bytes, or kQuantifiedOffset
};

// The tree of `re`, or InvalidArgument naming the problem and its byte
// offset (unsupported constructs, bad syntax, invalid UTF-8, nesting or
// size past the limits).
absl::StatusOr<Node> Parse(std::string_view re);

}  // namespace inferd::engine::regex

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_REGEX_PARSER_H_
