// engine/structured_output/gbnf_parser.cc — recursive-descent GBNF parser.
#include "engine/structured_output/gbnf_parser.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Sorts, merges and removes surrogates.
Ranges Normalize(Ranges r) {
  Ranges split;
  for (auto [lo, hi] : r) {
    if (lo > hi) continue;
    if (lo < 0xD800 && hi > 0xDFFF) {
      split.push_back({lo, 0xD7FF});
      split.push_back({0xE000, hi});
    } else if (lo >= 0xD800 && hi <= 0xDFFF) {
      continue;
    } else if (lo >= 0xD800 && lo <= 0xDFFF) {
      split.push_back({0xE000, hi});
    } else if (hi >= 0xD800 && hi <= 0xDFFF) {
      split.push_back({lo, 0xD7FF});
    } else {
      split.push_back({lo, hi});
    }
  }
  std::sort(split.begin(), split.end());
  Ranges out;
  for (auto [lo, hi] : split) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.push_back({lo, hi});
    }
  }
  return out;
}

Ranges Complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (auto [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return Normalize(std::move(out));
}

class Parser {
 public:
  Parser(std::string_view text, int32_t max_repeat) : text_(text), max_repeat_(max_repeat) {}

  absl::StatusOr<GbnfGrammar> Parse() {
    SkipSpace();
    while (pos_ < text_.size()) {
      GbnfRule rule;
      rule.line = line_;
      rule.col = Col();
      rule.name = ParseName();
      if (rule.name.empty()) return Error("expected a rule name");
      current_rule_ = rule.name;
      SkipSpace();
      if (text_.substr(pos_, 3) != "::=") return Error("expected '::=' after the rule name");
      Advance(3);
      SkipSpace();
      if (rule_index_.count(rule.name) && defined_[rule_index_[rule.name]]) {
        return ErrorAt(rule.line, rule.col, absl::StrCat("rule '", rule.name, "' defined twice"));
      }
      int32_t index = RuleIndex(rule.name, rule.line, rule.col);
      auto body = ParseAlternatives(/*nested=*/false);
      if (!body.ok()) return body.status();
      rule.body = std::move(*body);
      grammar_.rules[index] = std::move(rule);
      defined_[index] = true;
      current_rule_.clear();
    }
    for (size_t i = 0; i < grammar_.rules.size(); ++i) {
      if (!defined_[i]) {
        current_rule_ = first_use_rule_[i];
        return ErrorAt(first_use_[i].first, first_use_[i].second,
                       absl::StrCat("undefined rule '", grammar_.rules[i].name, "'"));
      }
    }
    auto root = rule_index_.find("root");
    if (root == rule_index_.end()) {
      return absl::InvalidArgumentError("GBNF: no 'root' rule (the start rule must be named root)");
    }
    grammar_.root = root->second;
    return std::move(grammar_);
  }

 private:
  int32_t Col() const { return static_cast<int32_t>(pos_ - line_start_) + 1; }

  void Advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i) {
      if (text_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
      ++pos_;
    }
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        Advance(1);
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') Advance(1);
      } else {
        break;
      }
    }
  }

  absl::Status ErrorAt(int32_t line, int32_t col, std::string_view what) const {
    if (current_rule_.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("GBNF %d:%d: %s", line, col, what));
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("GBNF %d:%d (rule %s): %s", line, col, current_rule_, what));
  }
  absl::Status Error(std::string_view what) const { return ErrorAt(line_, Col(), what); }

  std::string ParseName() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) Advance(1);
    return std::string(text_.substr(start, pos_ - start));
  }

  int32_t RuleIndex(const std::string& name, int32_t line, int32_t col) {
    auto it = rule_index_.find(name);
    if (it != rule_index_.end()) return it->second;
    int32_t index = static_cast<int32_t>(grammar_.rules.size());
    rule_index_[name] = index;
    grammar_.rules.emplace_back();
    grammar_.rules.back().name = name;
    defined_.push_back(false);
    first_use_.push_back({line, col});
    first_use_rule_.push_back(current_rule_);
    return index;
  }

  // True when the text at pos_ is `name ::=` (the start of the next rule).
  bool AtRuleStart() const {
    size_t p = pos_;
    while (p < text_.size() && IsNameChar(text_[p])) ++p;
    if (p == pos_) return false;
    while (p < text_.size() &&
           (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\n' || text_[p] == '\r')) {
      ++p;
    }
    return text_.substr(p, 3) == "::=";
  }

  absl::StatusOr<GbnfExpr> ParseAlternatives(bool nested) {
    GbnfExpr alt;
    alt.kind = GbnfExpr::Kind::kAlternatives;
    alt.line = line_;
    alt.col = Col();
    while (true) {
      auto seq = ParseSequence(nested);
      if (!seq.ok()) return seq.status();
      alt.children.push_back(std::move(*seq));
      if (pos_ < text_.size() && text_[pos_] == '|') {
        Advance(1);
        SkipSpace();
        continue;
      }
      break;
    }
    if (alt.children.size() == 1) return std::move(alt.children[0]);
    return alt;
  }

  absl::StatusOr<GbnfExpr> ParseSequence(bool nested) {
    GbnfExpr seq;
    seq.kind = GbnfExpr::Kind::kSequence;
    seq.line = line_;
    seq.col = Col();
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '|') break;
      if (c == ')') {
        if (nested) break;
        return Error("unexpected ')'");
      }
      if (!nested && AtRuleStart()) break;
      auto item = ParseItem(nested);
      if (!item.ok()) return item.status();
      auto rep = ParsePostfix(std::move(*item));
      if (!rep.ok()) return rep.status();
      seq.children.push_back(std::move(*rep));
      SkipSpace();
    }
    if (seq.children.size() == 1) return std::move(seq.children[0]);
    return seq;
  }

  absl::StatusOr<GbnfExpr> ParseItem(bool /*nested*/) {
    GbnfExpr e;
    e.line = line_;
    e.col = Col();
    char c = text_[pos_];
    if (c == '"') {
      Advance(1);
      e.kind = GbnfExpr::Kind::kLiteral;
      while (true) {
        if (pos_ >= text_.size()) return ErrorAt(e.line, e.col, "unterminated string literal");
        if (text_[pos_] == '"') {
          Advance(1);
          break;
        }
        if (text_[pos_] == '\n') return Error("newline in a string literal (write \\n)");
        auto cp = ParseChar();
        if (!cp.ok()) return cp.status();
        AppendUtf8(*cp, &e.literal);
      }
      return e;
    }
    if (c == '[') {
      Advance(1);
      e.kind = GbnfExpr::Kind::kClass;
      bool negated = false;
      if (pos_ < text_.size() && text_[pos_] == '^') {
        negated = true;
        Advance(1);
      }
      Ranges ranges;
      while (true) {
        if (pos_ >= text_.size()) return ErrorAt(e.line, e.col, "unterminated character class");
        if (text_[pos_] == ']') {
          Advance(1);
          break;
        }
        auto lo = ParseChar();
        if (!lo.ok()) return lo.status();
        uint32_t hi = *lo;
        if (pos_ + 1 < text_.size() && text_[pos_] == '-' && text_[pos_ + 1] != ']') {
          Advance(1);
          int32_t line = line_, col = Col();
          auto h = ParseChar();
          if (!h.ok()) return h.status();
          if (*h < *lo) return ErrorAt(line, col, "character range with its end before its start");
          hi = *h;
        }
        ranges.push_back({*lo, hi});
      }
      e.ranges = Normalize(std::move(ranges));
      if (negated) e.ranges = Complement(e.ranges);
      return e;
    }
    if (c == '.') {
      Advance(1);
      e.kind = GbnfExpr::Kind::kClass;
      e.ranges = Normalize({{0, kMaxCodePoint}});
      return e;
    }
    if (c == '(') {
      Advance(1);
      SkipSpace();
      auto inner = ParseAlternatives(/*nested=*/true);
      if (!inner.ok()) return inner.status();
      if (pos_ >= text_.size() || text_[pos_] != ')') {
        return ErrorAt(e.line, e.col, "'(' without a matching ')'");
      }
      Advance(1);
      return inner;
    }
    if (IsNameChar(c)) {
      std::string name = ParseName();
      e.kind = GbnfExpr::Kind::kRuleRef;
      e.rule = RuleIndex(name, e.line, e.col);
      return e;
    }
    return Error(absl::StrFormat("unexpected character '%s'", EscapeForMessage(c)));
  }

  static std::string EscapeForMessage(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string(1, c);
    return absl::StrFormat("\\x%02X", u);
  }

  absl::StatusOr<GbnfExpr> ParsePostfix(GbnfExpr item) {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      int32_t min, max;
      int32_t line = line_, col = Col();
      if (c == '*') {
        min = 0, max = -1;
        Advance(1);
      } else if (c == '+') {
        min = 1, max = -1;
        Advance(1);
      } else if (c == '?') {
        min = 0, max = 1;
        Advance(1);
      } else if (c == '{') {
        Advance(1);
        SkipSpace();
        auto m = ParseInt(/*allow_empty=*/true);
        if (!m.ok()) return m.status();
        min = *m < 0 ? 0 : *m;
        SkipSpace();
        if (*m < 0 && (pos_ >= text_.size() || text_[pos_] != ',')) {
          return Error("expected a number in '{m,n}'");
        }
        if (pos_ < text_.size() && text_[pos_] == '}') {
          max = min;
        } else if (pos_ < text_.size() && text_[pos_] == ',') {
          Advance(1);
          SkipSpace();
          auto n = ParseInt(/*allow_empty=*/true);
          if (!n.ok()) return n.status();
          max = *n;
          SkipSpace();
          if (max >= 0 && max < min) return ErrorAt(line, col, "repetition {m,n} with n < m");
        } else {
          return Error("expected ',' or '}' in a repetition");
        }
        if (pos_ >= text_.size() || text_[pos_] != '}') return Error("expected '}'");
        Advance(1);
      } else {
        break;
      }
      GbnfExpr rep;
      rep.kind = GbnfExpr::Kind::kRepeat;
      rep.line = item.line;
      rep.col = item.col;
      rep.min = min;
      rep.max = max;
      rep.children.push_back(std::move(item));
      item = std::move(rep);
    }
    return item;
  }

  // -1 when empty and allowed.
  absl::StatusOr<int32_t> ParseInt(bool allow_empty) {
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      v = v * 10 + (text_[pos_] - '0');
      if (v > max_repeat_) return Error(absl::StrCat("repetition bound over ", max_repeat_));
      Advance(1);
    }
    if (pos_ == start) {
      if (allow_empty) return -1;
      return Error("expected a number");
    }
    return static_cast<int32_t>(v);
  }

  absl::StatusOr<uint32_t> ParseHex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= text_.size()) return Error("truncated hex escape");
      char c = text_[pos_];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return Error("expected a hex digit in an escape");
      }
      v = v * 16 + static_cast<uint32_t>(d);
      Advance(1);
    }
    return v;
  }

  // One code point of a literal or class: an escape or a UTF-8 character.
  absl::StatusOr<uint32_t> ParseChar() {
    int32_t line = line_, col = Col();
    auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '\\') {
      Advance(1);
      if (pos_ >= text_.size()) return Error("truncated escape");
      char e = text_[pos_];
      Advance(1);
      uint32_t cp;
      switch (e) {
        case 'n':
          return uint32_t{'\n'};
        case 'r':
          return uint32_t{'\r'};
        case 't':
          return uint32_t{'\t'};
        case 'x': {
          auto v = ParseHex(2);
          if (!v.ok()) return v.status();
          return *v;
        }
        case 'u': {
          auto v = ParseHex(4);
          if (!v.ok()) return v.status();
          cp = *v;
          break;
        }
        case 'U': {
          auto v = ParseHex(8);
          if (!v.ok()) return v.status();
          cp = *v;
          break;
        }
        default:
          if ((e >= '!' && e <= '/') || (e >= ':' && e <= '@') || (e >= '[' && e <= '`') ||
              (e >= '{' && e <= '~')) {
            return static_cast<uint32_t>(e);
          }
          return ErrorAt(line, col, absl::StrFormat("unknown escape '\\%s'", EscapeForMessage(e)));
      }
      if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return ErrorAt(line, col, absl::StrFormat("invalid code point U+%X in an escape", cp));
      }
      return cp;
    }
    // A UTF-8 character of the grammar text.
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + len > text_.size()) return Error("invalid UTF-8 in the grammar text");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      auto b = static_cast<unsigned char>(text_[pos_ + i]);
      if ((b & 0xC0) != 0x80) return Error("invalid UTF-8 in the grammar text");
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Error("invalid UTF-8 in the grammar text");
    }
    Advance(static_cast<size_t>(len));
    return cp;
  }

  std::string_view text_;
  int32_t max_repeat_;
  size_t pos_ = 0;
  int32_t line_ = 1;
  size_t line_start_ = 0;
  std::string current_rule_;
  GbnfGrammar grammar_;
  std::map<std::string, int32_t> rule_index_;
  std::vector<bool> defined_;
  std::vector<std::pair<int32_t, int32_t>> first_use_;
  std::vector<std::string> first_use_rule_;
};

void AppendCodePoint(uint32_t cp, std::string* out) {
  if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\' && cp != '[' && cp != ']' && cp != '-' &&
      cp != '^') {
    out->push_back(static_cast<char>(cp));
  } else {
    absl::StrAppendFormat(out, "\\U%08X", cp);
  }
}

void Print(const GbnfGrammar& g, const GbnfExpr& e, std::string* out) {
  switch (e.kind) {
    case GbnfExpr::Kind::kSequence:
      out->append("(");
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i) out->append(" ");
        Print(g, e.children[i], out);
      }
      if (e.children.empty()) out->append("\"\"");
      out->append(")");
      break;
    case GbnfExpr::Kind::kAlternatives:
      out->append("(");
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i) out->append(" | ");
        Print(g, e.children[i], out);
      }
      out->append(")");
      break;
    case GbnfExpr::Kind::kLiteral: {
      out->append("\"");
      // Literal bytes are valid UTF-8 (built from code points).
      for (size_t i = 0; i < e.literal.size();) {
        auto c = static_cast<unsigned char>(e.literal[i]);
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < len; ++k) cp = (cp << 6) | (e.literal[i + k] & 0x3F);
        AppendCodePoint(cp, out);
        i += static_cast<size_t>(len);
      }
      out->append("\"");
      break;
    }
    case GbnfExpr::Kind::kClass:
      out->append("[");
      for (auto [lo, hi] : e.ranges) {
        AppendCodePoint(lo, out);
        if (hi != lo) {
          out->append("-");
          AppendCodePoint(hi, out);
        }
      }
      out->append("]");
      break;
    case GbnfExpr::Kind::kRuleRef:
      out->append(g.rules[static_cast<size_t>(e.rule)].name);
      break;
    case GbnfExpr::Kind::kRepeat:
      out->append("(");
      Print(g, e.children[0], out);
      if (e.max < 0) {
        absl::StrAppend(out, "){", e.min, ",}");
      } else {
        absl::StrAppend(out, "){", e.min, ",", e.max, "}");
      }
      break;
  }
}

}  // namespace

absl::StatusOr<GbnfGrammar> ParseGbnf(std::string_view text, int32_t max_repeat) {
  return Parser(text, max_repeat).Parse();
}

std::string GbnfToString(const GbnfGrammar& grammar) {
  std::string out;
  for (const GbnfRule& r : grammar.rules) {
    absl::StrAppend(&out, r.name, " ::= ");
    Print(grammar, r.body, &out);
    out.append("\n");
  }
  return out;
}

}  // namespace inferd::engine
