// engine/structured_output/gbnf_writer.h — building blocks shared by the
// constraint-to-GBNF converters (private to engine/structured_output):
// quoting literals and code point classes in llama.cpp's GBNF dialect, and a
// rule table that names rules, shares identical bodies and bounds the size
// of the text it renders.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_WRITER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_WRITER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine::gbnf {

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;
// The most GBNF text a converter may produce (CompileGbnf's default bound).
inline constexpr int64_t kMaxGbnfBytes = 4 << 20;

// The tokenizer's UTF-8 encoder (engine/tokenizer/utf8.h).
using ::inferd::engine::AppendUtf8;
// Decodes one code point of `s` at `*pos`, advancing it; false on invalid UTF-8.
bool DecodeUtf8(std::string_view s, size_t* pos, uint32_t* cp);

// A GBNF string literal matching exactly the bytes of `text` (UTF-8 kept;
// quotes, backslashes and control bytes escaped). `text` must be valid UTF-8.
std::string Literal(std::string_view text);

// A set of code points as sorted, disjoint, non-adjacent closed ranges.
class CodepointSet {
 public:
  CodepointSet() = default;
  static CodepointSet Range(uint32_t lo, uint32_t hi);
  static CodepointSet Of(uint32_t cp) { return Range(cp, cp); }

  void Add(uint32_t lo, uint32_t hi);
  void AddSet(const CodepointSet& other);
  CodepointSet Complement() const;  // within [0, kMaxCodepoint]
  CodepointSet Intersect(const CodepointSet& other) const;
  CodepointSet Minus(const CodepointSet& other) const;
  bool empty() const { return ranges_.empty(); }
  bool Contains(uint32_t cp) const;
  uint64_t Count() const;
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

  // The GBNF expression matching one code point of the set: a literal for a
  // single code point, else a [class] (or [^class] when shorter). Not empty.
  std::string ToGbnf() const;

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// Named rules; `root` is rendered first. Identical bodies share one name.
class RuleSet {
 public:
  // Adds `name_hint ::= body` (a fresh name derived from the hint, or the
  // existing rule with the same body) and returns the rule's name.
  std::string Add(std::string_view name_hint, std::string body);
  // Reserves a fresh name whose body is given later with Define (recursion).
  std::string Reserve(std::string_view name_hint);
  void Define(const std::string& name, std::string body);

  int64_t bytes() const { return bytes_; }
  // The grammar text, or RESOURCE_EXHAUSTED-like INVALID_ARGUMENT when it
  // exceeds kMaxGbnfBytes. `root` must have been added under that name.
  absl::Status CheckSize() const;
  std::string Render() const;

 private:
  std::string FreshName(std::string_view hint);
  std::vector<std::pair<std::string, std::string>> rules_;  // name, body
  std::map<std::string, std::string, std::less<>> by_body_;
  std::map<std::string, int, std::less<>> used_names_;  // base -> last suffix
  std::set<std::string, std::less<>> taken_;
  int64_t bytes_ = 0;
};

}  // namespace inferd::engine::gbnf

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_GBNF_WRITER_H_
