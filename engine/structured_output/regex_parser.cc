// engine/structured_output/regex_parser.cc — see regex_parser.h.
#include "engine/structured_output/regex_parser.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace inferd::engine::regex {
namespace {

using gbnf::CodepointSet;

constexpr int kMaxNesting = 64;
constexpr size_t kMaxRegexBytes = 64 * 1024;

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
      if (atom->kind == Node::Kind::kRepeat && atom->offset == kQuantifiedOffset) {
        return ErrorAt("nothing to repeat (a quantifier after a quantifier)", at);
      }
      if (!AtEnd() && Peek() == '?') ++pos_;  // lazy: the same language
      Node rep;
      rep.kind = Node::Kind::kRepeat;
      rep.min = min;
      rep.max = max;
      rep.offset = kQuantifiedOffset;
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

 private:
  std::string_view re_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Node> Parse(std::string_view re) { return Parser(re).Parse(); }

}  // namespace inferd::engine::regex
