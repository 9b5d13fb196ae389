// engine/structured_output/regex_to_gbnf.cc — ECMAScript-style regexes as
// GBNF (docs/structured-output.md lists the subset).
//
// A regex is parsed into a small tree (code point sets, concatenation,
// alternation, bounded repetition), then written out as one GBNF
// expression. Where ECMAScript and Python's `re` (the validator most JSON
// Schema users check against) disagree on a shorthand, the converter takes
// the intersection of the two languages: \d is [0-9], \w is [A-Za-z0-9_],
// \s the white space both agree on, `.` excludes \n \r U+2028 U+2029, and
// the negations are the complements of both readings. The grammar then never
// admits a string that either engine would reject.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/structured_output/constraint_to_gbnf.h"
#include "engine/structured_output/regex_to_gbnf_internal.h"

namespace inferd::engine {
namespace {

using gbnf::CodepointSet;

constexpr int kMaxNesting = 64;
constexpr int kMaxRepeat = 1000;              // largest {m,n} bound accepted
constexpr double kMaxExpandedSize = 200'000;  // code point sets after unrolling repeats
constexpr size_t kMaxRegexBytes = 64 * 1024;

struct Node {
  enum class Kind { kSet, kConcat, kAlt, kRepeat, kStart, kEnd };
  Kind kind = Kind::kConcat;
  CodepointSet set;  // kSet (the code points accepted by both readings)
  std::vector<Node> kids;
  int min = 0;
  int max = -1;  // kRepeat: -1 = unbounded
  size_t offset = 0;
};

// A shorthand or class: `lo` is what every reading accepts, `hi` what any
// reading may accept (the complement of a class swaps them).
struct SetPair {
  CodepointSet lo;
  CodepointSet hi;
};

CodepointSet Ranges(std::initializer_list<std::pair<uint32_t, uint32_t>> ranges) {
  CodepointSet s;
  for (const auto& [a, b] : ranges) s.Add(a, b);
  return s;
}

SetPair Shorthand(char c) {
  const CodepointSet digit = Ranges({{'0', '9'}});
  const CodepointSet word = Ranges({{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
  // ECMAScript's WhiteSpace+LineTerminator and Python's str.isspace().
  const CodepointSet space_both = Ranges({{'\t', '\r'},
                                          {' ', ' '},
                                          {0xA0, 0xA0},
                                          {0x1680, 0x1680},
                                          {0x2000, 0x200A},
                                          {0x2028, 0x2029},
                                          {0x202F, 0x202F},
                                          {0x205F, 0x205F},
                                          {0x3000, 0x3000}});
  CodepointSet space_any = space_both;
  space_any.Add(0x1C, 0x1F);
  space_any.Add(0x85, 0x85);
  space_any.Add(0xFEFF, 0xFEFF);
  const CodepointSet non_ascii = CodepointSet::Range(0x80, gbnf::kMaxCodepoint);
  CodepointSet digit_any = digit;
  digit_any.AddSet(non_ascii);
  CodepointSet word_any = word;
  word_any.AddSet(non_ascii);
  switch (c) {
    case 'd':
      return {digit, digit_any};
    case 'D':
      return {digit_any.Complement(), digit.Complement()};
    case 'w':
      return {word, word_any};
    case 'W':
      return {word_any.Complement(), word.Complement()};
    case 's':
      return {space_both, space_any};
    case 'S':
      return {space_any.Complement(), space_both.Complement()};
    default:
      break;
  }
  return {};
}

class Parser {
 public:
  explicit Parser(std::string_view re) : re_(re) {}

  absl::StatusOr<Node> Parse() {
    if (re_.size() > kMaxRegexBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("regex is ", re_.size(), " bytes; the limit is ", kMaxRegexBytes));
    }
    Node n;
    absl::Status s = ParseAlt(0, &n);
    if (!s.ok()) return s;
    if (pos_ < re_.size()) return Error("unmatched ')'");
    return n;
  }

 private:
  absl::Status Error(std::string_view what) const { return ErrorAt(what, pos_); }
  absl::Status ErrorAt(std::string_view what, size_t at) const {
    return absl::InvalidArgumentError(
        absl::StrCat("regex: ", std::string(what), " at offset ", at));
  }
  bool AtEnd() const { return pos_ >= re_.size(); }
  char Peek() const { return re_[pos_]; }

  absl::Status ParseAlt(int depth, Node* out) {
    if (depth > kMaxNesting) return Error("groups nested too deeply");
    out->kind = Node::Kind::kAlt;
    out->offset = pos_;
    while (true) {
      Node branch;
      if (absl::Status s = ParseConcat(depth, &branch); !s.ok()) return s;
      out->kids.push_back(std::move(branch));
      if (AtEnd() || Peek() != '|') break;
      ++pos_;
    }
    if (out->kids.size() == 1) {
      Node only = std::move(out->kids[0]);
      *out = std::move(only);
    }
    return absl::OkStatus();
  }

  absl::Status ParseConcat(int depth, Node* out) {
    out->kind = Node::Kind::kConcat;
    out->offset = pos_;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Node atom;
      if (absl::Status s = ParseAtom(depth, &atom); !s.ok()) return s;
      if (absl::Status s = ParseQuantifiers(&atom); !s.ok()) return s;
      out->kids.push_back(std::move(atom));
    }
    return absl::OkStatus();
  }

  // Reads {m}, {m,}, {m,n} at pos_ (on '{'); false (pos_ unchanged) when the
  // text is not a quantifier (ECMAScript then reads '{' as a literal).
  bool ReadBraces(int* min, int* max, bool* too_big) {
    size_t p = pos_ + 1;
    const auto number = [&](int* v) {
      size_t start = p;
      long long x = 0;
      while (p < re_.size() && re_[p] >= '0' && re_[p] <= '9') {
        x = std::min<long long>(x * 10 + (re_[p] - '0'), 1LL << 40);
        ++p;
      }
      if (x > kMaxRepeat) *too_big = true;
      *v = static_cast<int>(std::min<long long>(x, kMaxRepeat + 1));
      return p > start;
    };
    if (!number(min)) return false;
    *max = *min;
    if (p < re_.size() && re_[p] == ',') {
      ++p;
      *max = -1;
      if (p < re_.size() && re_[p] != '}' && !number(max)) return false;
    }
    if (p >= re_.size() || re_[p] != '}') return false;
    pos_ = p + 1;
    return true;
  }

  absl::Status ParseQuantifiers(Node* atom) {
    while (!AtEnd()) {
      const size_t at = pos_;
      int min = 0;
      int max = -1;
      const char c = Peek();
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        min = 1;
        ++pos_;
      } else if (c == '?') {
        max = 1;
        ++pos_;
      } else if (c == '{') {
        bool too_big = false;
        if (!ReadBraces(&min, &max, &too_big)) return absl::OkStatus();
        if (too_big) return ErrorAt(absl::StrCat("repetition bound over ", kMaxRepeat), at);
        if (max >= 0 && max < min) return ErrorAt("repetition {m,n} with n < m", at);
      } else {
        return absl::OkStatus();
      }
      if (atom->kind == Node::Kind::kStart || atom->kind == Node::Kind::kEnd) {
        return ErrorAt("quantifier on an anchor", at);
      }
      if (atom->kind == Node::Kind::kRepeat && atom->offset == kQuantified) {
        return ErrorAt("nothing to repeat (a quantifier after a quantifier)", at);
      }
      if (!AtEnd() && Peek() == '?') ++pos_;  // lazy: the same language
      Node rep;
      rep.kind = Node::Kind::kRepeat;
      rep.min = min;
      rep.max = max;
      rep.offset = kQuantified;
      rep.kids.push_back(std::move(*atom));
      *atom = std::move(rep);
    }
    return absl::OkStatus();
  }

  absl::Status ParseAtom(int depth, Node* out) {
    out->offset = pos_;
    const char c = Peek();
    switch (c) {
      case '(': {
        const size_t open = pos_;
        ++pos_;
        if (!AtEnd() && Peek() == '?') {
          if (re_.substr(pos_, 2) == "?:") {
            pos_ += 2;
          } else if (re_.substr(pos_, 2) == "?<" && re_.substr(pos_, 3) != "?<=" &&
                     re_.substr(pos_, 3) != "?<!") {
            const size_t close = re_.find('>', pos_);
            if (close == std::string_view::npos) return Error("unterminated group name");
            pos_ = close + 1;
          } else if (re_.substr(pos_, 2) == "?=" || re_.substr(pos_, 2) == "?!" ||
                     re_.substr(pos_, 3) == "?<=" || re_.substr(pos_, 3) == "?<!") {
            return ErrorAt("lookaround assertions are not supported", open);
          } else {
            return ErrorAt("unsupported group syntax '(?'", open);
          }
        }
        if (absl::Status s = ParseAlt(depth + 1, out); !s.ok()) return s;
        if (AtEnd() || Peek() != ')') return ErrorAt("unclosed group", open);
        ++pos_;
        return absl::OkStatus();
      }
      case ')':
        return Error("unmatched ')'");
      case '*':
      case '+':
      case '?':
        return Error("nothing to repeat");
      case '{': {
        int a = 0;
        int b = 0;
        bool too_big = false;
        const size_t save = pos_;
        if (ReadBraces(&a, &b, &too_big)) {
          pos_ = save;
          return Error("nothing to repeat");
        }
        break;  // a literal '{'
      }
      case '^':
        ++pos_;
        out->kind = Node::Kind::kStart;
        return absl::OkStatus();
      case '$':
        ++pos_;
        out->kind = Node::Kind::kEnd;
        return absl::OkStatus();
      case '.':
        ++pos_;
        out->kind = Node::Kind::kSet;
        out->set = Ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}).Complement();
        return absl::OkStatus();
      case '[':
        return ParseClass(out);
      case '\\': {
        SetPair pair;
        if (absl::Status s = ParseEscape(/*in_class=*/false, &pair); !s.ok()) return s;
        out->kind = Node::Kind::kSet;
        out->set = pair.lo;
        return absl::OkStatus();
      }
      default:
        break;
    }
    uint32_t cp = 0;
    const size_t at = pos_;
    if (!gbnf::DecodeUtf8(re_, &pos_, &cp)) return ErrorAt("invalid UTF-8", at);
    out->kind = Node::Kind::kSet;
    out->set = CodepointSet::Of(cp);
    return absl::OkStatus();
  }

  absl::Status ReadHex(int digits, uint32_t* v) {
    *v = 0;
    for (int i = 0; i < digits; ++i) {
      if (AtEnd()) return Error("truncated hex escape");
      const char h = Peek();
      int d = -1;
      if (h >= '0' && h <= '9') d = h - '0';
      if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
      if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      if (d < 0) return Error("invalid hex escape");
      *v = *v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return absl::OkStatus();
  }

  // At '\\'. A single code point comes back as lo == hi == {cp}.
  absl::Status ParseEscape(bool in_class, SetPair* out) {
    const size_t at = pos_;
    ++pos_;
    if (AtEnd()) return ErrorAt("trailing backslash", at);
    const char c = Peek();
    ++pos_;
    uint32_t cp = 0;
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        *out = Shorthand(c);
        return absl::OkStatus();
      case 'n':
        cp = '\n';
        break;
      case 'r':
        cp = '\r';
        break;
      case 't':
        cp = '\t';
        break;
      case 'v':
        cp = 0x0B;
        break;
      case 'f':
        cp = 0x0C;
        break;
      case 'b':
        if (!in_class) return ErrorAt("word boundary \\b is not supported", at);
        cp = 0x08;
        break;
      case 'B':
        return ErrorAt("\\B is not supported", at);
      case '0':
        if (!AtEnd() && Peek() >= '0' && Peek() <= '9')
          return ErrorAt("octal escapes are not supported", at);
        cp = 0;
        break;
      case 'x':
        if (absl::Status s = ReadHex(2, &cp); !s.ok()) return s;
        break;
      case 'u':
        if (!AtEnd() && Peek() == '{') {
          ++pos_;
          cp = 0;
          int n = 0;
          while (!AtEnd() && Peek() != '}') {
            uint32_t d = 0;
            if (absl::Status s = ReadHex(1, &d); !s.ok()) return s;
            cp = cp * 16 + d;
            if (++n > 6) return ErrorAt("\\u{...} escape too long", at);
          }
          if (AtEnd() || n == 0) return ErrorAt("unterminated \\u{...} escape", at);
          ++pos_;
        } else if (absl::Status s = ReadHex(4, &cp); !s.ok()) {
          return s;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
          return ErrorAt("surrogate code point in a \\u escape", at);
        if (cp > gbnf::kMaxCodepoint) return ErrorAt("code point out of range", at);
        break;
      case 'c': {
        if (AtEnd() || !((Peek() >= 'a' && Peek() <= 'z') || (Peek() >= 'A' && Peek() <= 'Z'))) {
          return ErrorAt("invalid \\c escape", at);
        }
        cp = static_cast<uint32_t>(Peek()) % 32;
        ++pos_;
        break;
      }
      case 'p':
      case 'P':
        return ErrorAt("Unicode property escapes are not supported", at);
      case 'k':
        return ErrorAt("named backreferences are not supported", at);
      default:
        if (c >= '1' && c <= '9') return ErrorAt("backreferences are not supported", at);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
          return ErrorAt(absl::StrCat("unknown escape '\\", std::string(1, c), "'"), at);
        }
        if (static_cast<unsigned char>(c) >= 0x80) {
          pos_ = at + 1;
          if (!gbnf::DecodeUtf8(re_, &pos_, &cp)) return ErrorAt("invalid UTF-8", at);
        } else {
          cp = static_cast<unsigned char>(c);  // identity escape of punctuation
        }
        break;
    }
    out->lo = CodepointSet::Of(cp);
    out->hi = out->lo;
    return absl::OkStatus();
  }

  absl::Status ParseClass(Node* out) {
    const size_t open = pos_;
    ++pos_;
    bool negated = false;
    if (!AtEnd() && Peek() == '^') {
      negated = true;
      ++pos_;
    }
    if (!AtEnd() && Peek() == ']') return ErrorAt("empty character class", open);
    SetPair acc;
    while (true) {
      if (AtEnd()) return ErrorAt("unclosed character class", open);
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      SetPair first;
      bool single = false;
      uint32_t first_cp = 0;
      if (absl::Status s = ClassAtom(&first, &single, &first_cp); !s.ok()) return s;
      if (!AtEnd() && Peek() == '-' && pos_ + 1 < re_.size() && re_[pos_ + 1] != ']') {
        const size_t dash = pos_;
        ++pos_;
        SetPair second;
        bool single2 = false;
        uint32_t last_cp = 0;
        if (absl::Status s = ClassAtom(&second, &single2, &last_cp); !s.ok()) return s;
        if (!single || !single2) return ErrorAt("a class shorthand as a range endpoint", dash);
        if (last_cp < first_cp) return ErrorAt("character class range out of order", dash);
        acc.lo.Add(first_cp, last_cp);
        acc.hi.Add(first_cp, last_cp);
        continue;
      }
      acc.lo.AddSet(first.lo);
      acc.hi.AddSet(first.hi);
    }
    out->kind = Node::Kind::kSet;
    out->set = negated ? acc.hi.Complement() : acc.lo;
    return absl::OkStatus();
  }

  absl::Status ClassAtom(SetPair* out, bool* single, uint32_t* cp) {
    if (Peek() == '\\') {
      if (absl::Status s = ParseEscape(/*in_class=*/true, out); !s.ok()) return s;
      *single = out->lo.Count() == 1 && out->hi.Count() == 1;
      if (*single) *cp = out->lo.ranges()[0].first;
      return absl::OkStatus();
    }
    if (Peek() == '[' && pos_ + 1 < re_.size() &&
        (re_[pos_ + 1] == ':' || re_[pos_ + 1] == '=' || re_[pos_ + 1] == '.')) {
      return Error("POSIX bracket expressions are not supported");
    }
    const size_t at = pos_;
    if (!gbnf::DecodeUtf8(re_, &pos_, cp)) return ErrorAt("invalid UTF-8", at);
    out->lo = CodepointSet::Of(*cp);
    out->hi = out->lo;
    *single = true;
    return absl::OkStatus();
  }

 public:
  static constexpr size_t kQuantified = static_cast<size_t>(-1);

 private:
  std::string_view re_;
  size_t pos_ = 0;
};

double ExpandedSize(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kSet:
      return 1;
    case Node::Kind::kStart:
    case Node::Kind::kEnd:
      return 0;
    case Node::Kind::kRepeat: {
      const double reps = n.max < 0 ? std::max(n.min, 1) + 1 : std::max(n.max, 1);
      return reps * ExpandedSize(n.kids[0]);
    }
    case Node::Kind::kConcat:
    case Node::Kind::kAlt: {
      double s = 1;
      for (const Node& k : n.kids) s += ExpandedSize(k);
      return s;
    }
  }
  return 0;
}

// Lengths saturate at kLengthCap (then treated as unbounded).
constexpr int64_t kLengthCap = int64_t{1} << 40;

RegexLength LengthOf(const Node& n) {
  const auto sat = [](int64_t v) { return std::min(v, kLengthCap); };
  switch (n.kind) {
    case Node::Kind::kSet:
      return {1, 1};
    case Node::Kind::kStart:
    case Node::Kind::kEnd:
      return {0, 0};
    case Node::Kind::kConcat: {
      RegexLength out{0, 0};
      for (const Node& k : n.kids) {
        const RegexLength l = LengthOf(k);
        out.min = sat(out.min + l.min);
        if (!l.max || !out.max) {
          out.max.reset();
        } else {
          out.max = sat(*out.max + *l.max);
        }
      }
      return out;
    }
    case Node::Kind::kAlt: {
      RegexLength out{kLengthCap, 0};
      for (const Node& k : n.kids) {
        const RegexLength l = LengthOf(k);
        out.min = std::min(out.min, l.min);
        if (!l.max || !out.max) {
          out.max.reset();
        } else {
          out.max = std::max(*out.max, *l.max);
        }
      }
      return out;
    }
    case Node::Kind::kRepeat: {
      const RegexLength l = LengthOf(n.kids[0]);
      RegexLength out;
      out.min = sat(l.min * n.min);
      if (n.max == 0) {
        out.max = 0;
      } else if (n.max > 0 && l.max) {
        out.max = sat(*l.max * n.max);
      }
      return out;
    }
  }
  return {};
}

class Writer {
 public:
  Writer(RegexTarget target, gbnf::RuleSet* rules) : target_(target), rules_(rules) {}

  absl::StatusOr<std::string> Write(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kStart:
      case Node::Kind::kEnd:
        return absl::InvalidArgumentError(absl::StrCat(
            "regex: anchors are supported only at the start and end of the pattern (offset ",
            n.offset == Parser::kQuantified ? 0 : n.offset, ")"));
      case Node::Kind::kSet:
        return WriteSet(n.set);
      case Node::Kind::kConcat: {
        if (n.kids.empty()) return std::string("\"\"");
        std::vector<std::string> parts;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> p = Write(k);
          if (!p.ok()) return p.status();
          parts.push_back(*std::move(p));
        }
        if (parts.size() == 1) return parts[0];
        return absl::StrCat("(", absl::StrJoin(parts, " "), ")");
      }
      case Node::Kind::kAlt: {
        std::vector<std::string> parts;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> p = Write(k);
          if (!p.ok()) return p.status();
          parts.push_back(*std::move(p));
        }
        return absl::StrCat("(", absl::StrJoin(parts, " | "), ")");
      }
      case Node::Kind::kRepeat: {
        absl::StatusOr<std::string> inner = Write(n.kids[0]);
        if (!inner.ok()) return inner.status();
        std::string suffix;
        if (n.min == 0 && n.max < 0) {
          suffix = "*";
        } else if (n.min == 1 && n.max < 0) {
          suffix = "+";
        } else if (n.min == 0 && n.max == 1) {
          suffix = "?";
        } else if (n.max < 0) {
          suffix = absl::StrCat("{", n.min, ",}");
        } else if (n.min == n.max) {
          suffix = absl::StrCat("{", n.min, "}");
        } else {
          suffix = absl::StrCat("{", n.min, ",", n.max, "}");
        }
        if (n.max == 0) return std::string("\"\"");
        return absl::StrCat("(", *inner, ")", suffix);
      }
    }
    return std::string("\"\"");
  }

 private:
  absl::StatusOr<std::string> WriteSet(const CodepointSet& raw) {
    CodepointSet set = raw.Minus(CodepointSet::Range(0xD800, 0xDFFF));
    if (set.empty()) {
      return absl::InvalidArgumentError("regex: a character class that matches nothing");
    }
    if (target_ == RegexTarget::kWholeOutput) return set.ToGbnf();
    // JSON string content: characters that JSON must escape appear in their
    // escaped forms (every form that decodes to them), '/' also as "\/".
    const CodepointSet must_escape = Ranges({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}});
    std::vector<std::string> alts;
    const CodepointSet plain = set.Minus(must_escape);
    if (!plain.empty()) alts.push_back(plain.ToGbnf());
    if (set.Contains('/')) alts.push_back(gbnf::Literal("\\/"));
    if (set.Contains('"')) alts.push_back(gbnf::Literal("\\\""));
    if (set.Contains('\\')) alts.push_back(gbnf::Literal("\\\\"));
    for (uint32_t c = 0; c < 0x20; ++c) {
      if (!set.Contains(c)) continue;
      static constexpr std::pair<uint32_t, char> kShort[] = {
          {0x08, 'b'}, {0x0C, 'f'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}};
      for (const auto& [code, letter] : kShort) {
        if (code == c) alts.push_back(gbnf::Literal(std::string("\\") + letter));
      }
      static constexpr char kHex[] = "0123456789abcdef";
      const char hi = kHex[c >> 4];
      const char lo = kHex[c & 15];
      std::string lo_class =
          lo >= 'a' ? absl::StrCat("[", std::string(1, lo), std::string(1, lo - 32), "]")
                    : absl::StrCat("\"", std::string(1, lo), "\"");
      alts.push_back(absl::StrCat("\"\\\\u00", std::string(1, hi), "\" ", lo_class));
    }
    if (alts.size() == 1) return alts[0];
    return rules_->Add("pattern-char", absl::StrJoin(alts, " | "));
  }

  RegexTarget target_;
  gbnf::RuleSet* rules_;
};

bool HasAnchor(const Node& n) {
  if (n.kind == Node::Kind::kStart || n.kind == Node::Kind::kEnd) return true;
  for (const Node& k : n.kids) {
    if (HasAnchor(k)) return true;
  }
  return false;
}

// The top-level alternatives as flat concatenations, with anchors brought
// to the ends where the grouping allows it: unrepeated groups are spliced
// into their concatenation, and an alternation that holds anchors and opens
// or closes a branch is distributed over it (^(a|$) = ^a | ^$).
std::vector<Node> TopLevelBranches(Node tree) {
  std::vector<Node> work;
  work.push_back(std::move(tree));
  std::vector<Node> out;
  while (!work.empty() && work.size() + out.size() < 256) {
    Node n = std::move(work.back());
    work.pop_back();
    if (n.kind == Node::Kind::kAlt) {
      for (Node& k : n.kids) work.push_back(std::move(k));
      continue;
    }
    Node flat;
    flat.kind = Node::Kind::kConcat;
    flat.offset = n.offset;
    std::vector<Node> pending;
    pending.push_back(std::move(n));
    // Splice nested concatenations, in order.
    std::vector<Node> stack = std::move(pending);
    while (!stack.empty()) {
      Node k = std::move(stack.back());
      stack.pop_back();
      if (k.kind == Node::Kind::kConcat) {
        for (size_t i = k.kids.size(); i-- > 0;) stack.push_back(std::move(k.kids[i]));
      } else {
        flat.kids.push_back(std::move(k));
      }
    }
    // Distribute an anchored alternation at either end.
    for (const bool at_end : {false, true}) {
      if (flat.kids.empty()) break;
      Node& edge = at_end ? flat.kids.back() : flat.kids.front();
      if (edge.kind != Node::Kind::kAlt || !HasAnchor(edge)) continue;
      Node alt = std::move(edge);
      if (at_end) {
        flat.kids.pop_back();
      } else {
        flat.kids.erase(flat.kids.begin());
      }
      for (Node& choice : alt.kids) {
        Node variant;
        variant.kind = Node::Kind::kConcat;
        variant.kids = flat.kids;
        if (at_end) {
          variant.kids.push_back(std::move(choice));
        } else {
          variant.kids.insert(variant.kids.begin(), std::move(choice));
        }
        work.push_back(std::move(variant));
      }
      flat.kids.clear();
      flat.kind = Node::Kind::kAlt;  // consumed
      break;
    }
    if (flat.kind == Node::Kind::kConcat) out.push_back(std::move(flat));
  }
  for (Node& n : work) out.push_back(std::move(n));  // over the cap: left as they are
  return out;
}

}  // namespace

std::string JsonCharBody() {
  return "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})";
}

absl::StatusOr<std::string> RegexToGbnfExpression(std::string_view regex, RegexTarget target,
                                                  gbnf::RuleSet* rules, RegexLength* length,
                                                  RegexLength* clamp) {
  absl::StatusOr<Node> tree = Parser(regex).Parse();
  if (!tree.ok()) return tree.status();
  if (ExpandedSize(*tree) > kMaxExpandedSize) {
    return absl::InvalidArgumentError(
        "regex: repetitions expand to more than 200000 elements (nested or large {m,n})");
  }
  // Anchors: ^ may open and $ may close each top-level alternative.
  std::vector<Node> branches = TopLevelBranches(*std::move(tree));
  Writer writer(target, rules);
  std::vector<std::string> alts;
  if (length != nullptr) *length = RegexLength{kLengthCap, 0};
  for (Node& branch : branches) {
    bool start = false;
    bool end = false;
    if (branch.kind != Node::Kind::kConcat) {
      Node wrap;
      wrap.kind = Node::Kind::kConcat;
      wrap.kids.push_back(std::move(branch));
      branch = std::move(wrap);
    }
    std::vector<Node>& kids = branch.kids;
    while (!kids.empty() && kids.front().kind == Node::Kind::kStart) {
      start = true;
      kids.erase(kids.begin());
    }
    while (!kids.empty() && kids.back().kind == Node::Kind::kEnd) {
      end = true;
      kids.pop_back();
    }
    if (clamp != nullptr && branches.size() == 1 && start && end && kids.size() == 1) {
      // ^C{m,n}$ (or ^C$): intersect the count with the length range.
      Node& only = kids[0];
      if (only.kind == Node::Kind::kSet) {
        Node rep;
        rep.kind = Node::Kind::kRepeat;
        rep.min = 1;
        rep.max = 1;
        rep.kids.push_back(std::move(only));
        only = std::move(rep);
      }
      if (only.kind == Node::Kind::kRepeat && only.kids[0].kind == Node::Kind::kSet) {
        const int64_t lo = std::max<int64_t>(only.min, clamp->min);
        std::optional<int64_t> hi = clamp->max;
        if (only.max >= 0) hi = hi ? std::min<int64_t>(*hi, only.max) : only.max;
        if (hi && *hi < lo) {
          return absl::InvalidArgumentError(
              "regex: no string of the pattern has an allowed length");
        }
        if (lo > kMaxRepeat * 100 || (hi && *hi > kMaxRepeat * 100)) {
          return absl::InvalidArgumentError("regex: length bounds too large");
        }
        only.min = static_cast<int>(lo);
        only.max = hi ? static_cast<int>(*hi) : -1;
        *clamp = RegexLength{0, std::nullopt};
      }
    }
    absl::StatusOr<std::string> body = writer.Write(branch);
    if (!body.ok()) return body.status();
    if (length != nullptr) {
      RegexLength l = LengthOf(branch);
      if (target == RegexTarget::kJsonStringContent && (!start || !end)) l.max.reset();
      if (l.max && *l.max >= kLengthCap) l.max.reset();
      length->min = std::min(length->min, l.min);
      if (!l.max || !length->max) {
        length->max.reset();
      } else {
        length->max = std::max(*length->max, *l.max);
      }
    }
    if (target == RegexTarget::kJsonStringContent) {
      const std::string any = rules->Add("char", JsonCharBody());
      alts.push_back(absl::StrCat(start ? "" : any + "* ", *body, end ? "" : " " + any + "*"));
    } else {
      alts.push_back(*std::move(body));
    }
  }
  if (alts.size() == 1) return alts[0];
  return absl::StrCat("(", absl::StrJoin(alts, " | "), ")");
}

absl::StatusOr<std::string> RegexToGbnf(std::string_view regex) {
  gbnf::RuleSet rules;
  const std::string root = rules.Reserve("root");
  absl::StatusOr<std::string> expr =
      RegexToGbnfExpression(regex, RegexTarget::kWholeOutput, &rules);
  if (!expr.ok()) return expr.status();
  rules.Define(root, *std::move(expr));
  if (absl::Status s = rules.CheckSize(); !s.ok()) return s;
  return rules.Render();
}

}  // namespace inferd::engine
