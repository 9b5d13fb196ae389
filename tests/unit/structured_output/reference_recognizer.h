// tests/unit/structured_output/reference_recognizer.h — a plain
// backtracking recognizer over bytes, straight on the parsed GBNF tree,
// written without the automaton: the reference the matcher is tested against.
//
// IsPrefix(w): w is a prefix of some sentence of root. IsSentence(w): w is a
// sentence. Continuation-passing backtracking; in prefix mode the end of the
// input inside any element succeeds when the element (and everything after
// it) can still match something. Exponential in the worst case: callers keep
// inputs short and give up past `budget` steps (budget_exceeded()).
#ifndef INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_REFERENCE_RECOGNIZER_H_
#define INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_REFERENCE_RECOGNIZER_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "engine/structured_output/gbnf_parser.h"

namespace inferd::engine {

class ReferenceRecognizer {
 public:
  explicit ReferenceRecognizer(const GbnfGrammar& g, int64_t budget = 2'000'000)
      : g_(g), budget_(budget) {
    nonempty_.assign(g.rules.size(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < g.rules.size(); ++r) {
        if (!nonempty_[r] && Nonempty(g.rules[r].body)) nonempty_[r] = changed = true;
      }
    }
  }

  bool LanguageNonEmpty() const { return nonempty_[static_cast<size_t>(g_.root)]; }
  bool IsPrefix(std::string_view w) { return Run(w, true); }
  bool IsSentence(std::string_view w) { return Run(w, false); }
  bool budget_exceeded() const { return exceeded_; }

 private:
  using K = std::function<bool(size_t)>;

  bool Run(std::string_view w, bool prefix) {
    w_ = w;
    prefix_ = prefix;
    steps_ = 0;
    return Match(g_.rules[static_cast<size_t>(g_.root)].body, 0,
                 [&](size_t p) { return p == w_.size(); });
  }

  bool Nonempty(const GbnfExpr& e) const {
    switch (e.kind) {
      case GbnfExpr::Kind::kLiteral:
        return true;
      case GbnfExpr::Kind::kClass:
        return !e.ranges.empty();
      case GbnfExpr::Kind::kRuleRef:
        return nonempty_[static_cast<size_t>(e.rule)];
      case GbnfExpr::Kind::kSequence:
        for (const auto& c : e.children) {
          if (!Nonempty(c)) return false;
        }
        return true;
      case GbnfExpr::Kind::kAlternatives:
        for (const auto& c : e.children) {
          if (Nonempty(c)) return true;
        }
        return false;
      case GbnfExpr::Kind::kRepeat:
        return e.min == 0 || Nonempty(e.children[0]);
    }
    return false;
  }

  static bool InClass(const GbnfExpr& e, uint32_t lo, uint32_t hi) {
    // Some code point of [lo, hi] (no surrogates) is in the class.
    for (auto [a, b] : e.ranges) {
      uint32_t x = std::max(a, lo), y = std::min(b, hi);
      if (x > y) continue;
      // [x, y] minus surrogates non-empty?
      if (x >= 0xD800 && y <= 0xDFFF) continue;
      return true;
    }
    return false;
  }

  // 0: no; 1: a whole code point of the class, `len` bytes; 2: the input
  // ends inside a code point some member of the class starts with.
  int MatchClass(const GbnfExpr& e, size_t pos, size_t* len) const {
    auto c = static_cast<uint8_t>(w_[pos]);
    size_t n = c < 0x80                   ? 1
               : (c >= 0xC2 && c <= 0xDF) ? 2
               : (c >= 0xE0 && c <= 0xEF) ? 3
               : (c >= 0xF0 && c <= 0xF4) ? 4
                                          : 0;
    if (n == 0) return 0;
    size_t have = std::min(n, w_.size() - pos);
    uint32_t lo = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    uint32_t hi = lo;
    for (size_t i = 1; i < n; ++i) {
      if (i < have) {
        auto b = static_cast<uint8_t>(w_[pos + i]);
        if ((b & 0xC0) != 0x80) return 0;
        lo = (lo << 6) | (b & 0x3F);
        hi = (hi << 6) | (b & 0x3F);
      } else {
        lo = lo << 6;
        hi = (hi << 6) | 0x3F;
      }
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    lo = std::max(lo, kMin[n]);
    hi = std::min(hi, kMaxCodePoint);
    if (lo > hi) return 0;
    if (have == n) {
      if (lo >= 0xD800 && lo <= 0xDFFF) return 0;
      if (!InClass(e, lo, lo)) return 0;
      *len = n;
      return 1;
    }
    return InClass(e, lo, hi) ? 2 : 0;
  }

  bool Match(const GbnfExpr& e, size_t pos, const K& k) {
    if (++steps_ > budget_) {
      exceeded_ = true;
      return false;
    }
    size_t n = w_.size();
    if (prefix_ && pos == n) return Nonempty(e) && k(n);
    switch (e.kind) {
      case GbnfExpr::Kind::kLiteral:
        for (size_t i = 0; i < e.literal.size(); ++i) {
          if (pos + i == n) return prefix_ && k(n);
          if (w_[pos + i] != e.literal[i]) return false;
        }
        return k(pos + e.literal.size());
      case GbnfExpr::Kind::kClass: {
        if (pos == n) return false;
        size_t len = 0;
        int m = MatchClass(e, pos, &len);
        if (m == 1) return k(pos + len);
        if (m == 2) return prefix_ && k(n);
        return false;
      }
      case GbnfExpr::Kind::kRuleRef:
        return Match(g_.rules[static_cast<size_t>(e.rule)].body, pos, k);
      case GbnfExpr::Kind::kSequence:
        return Seq(e, 0, pos, k);
      case GbnfExpr::Kind::kAlternatives:
        for (const auto& c : e.children) {
          if (Match(c, pos, k)) return true;
        }
        return false;
      case GbnfExpr::Kind::kRepeat:
        return Rep(e, 0, pos, k);
    }
    return false;
  }

  bool Seq(const GbnfExpr& e, size_t i, size_t pos, const K& k) {
    if (i == e.children.size()) return k(pos);
    return Match(e.children[i], pos, [&](size_t p) { return Seq(e, i + 1, p, k); });
  }

  bool Rep(const GbnfExpr& e, int32_t count, size_t pos, const K& k) {
    if (count >= e.min && k(pos)) return true;
    if (e.max >= 0 && count >= e.max) return false;
    return Match(e.children[0], pos, [&](size_t p) {
      if (p == pos && count >= e.min) return false;  // no progress: same as stopping
      return Rep(e, count + 1, p, k);
    });
  }

  const GbnfGrammar& g_;
  std::vector<bool> nonempty_;
  std::string_view w_;
  bool prefix_ = false;
  int64_t steps_ = 0;
  int64_t budget_;
  bool exceeded_ = false;
};

}  // namespace inferd::engine

#endif  // INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_REFERENCE_RECOGNIZER_H_
