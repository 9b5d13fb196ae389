// engine/structured_output/integer_range_gbnf.cc — see integer_range_gbnf.h.
//
// Non-negative [a, b] splits by digit count; each same-length range
// [lo, hi] recurses on the first digit: a shared first digit, or lo's first
// digit then anything >= lo's tail, the digits strictly between with any
// tail, and hi's first digit then anything <= hi's tail.
#include "engine/structured_output/integer_range_gbnf.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace inferd::engine {
namespace {

std::string Digits(char lo, char hi) {
  if (lo == hi) return absl::StrCat("\"", std::string(1, lo), "\"");
  if (lo == '0' && hi == '9') return "[0-9]";
  return absl::StrCat("[", std::string(1, lo), "-", std::string(1, hi), "]");
}

std::string AnyDigits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return absl::StrCat("[0-9]{", n, "}");
}

std::string Join(const std::vector<std::string>& parts) {
  std::vector<std::string> nonempty;
  for (const std::string& p : parts) {
    if (!p.empty()) nonempty.push_back(p);
  }
  return absl::StrJoin(nonempty, " ");
}

// Strings of lo.size() digits s with lo <= s <= hi (same length, lo <= hi).
std::string SameLength(const std::string& lo, const std::string& hi) {
  const size_t n = lo.size();
  if (n == 0) return "";
  if (lo == hi) return absl::StrCat("\"", lo, "\"");
  if (lo[0] == hi[0]) return Join({Digits(lo[0], lo[0]), SameLength(lo.substr(1), hi.substr(1))});
  const std::string lo_tail = lo.substr(1);
  const std::string hi_tail = hi.substr(1);
  const std::string zeros(n - 1, '0');
  const std::string nines(n - 1, '9');
  std::vector<std::string> alts;
  char first_free = lo[0];
  char last_free = hi[0];
  if (lo_tail != zeros) {
    alts.push_back(Join({Digits(lo[0], lo[0]), SameLength(lo_tail, nines)}));
    ++first_free;
  }
  if (hi_tail != nines) --last_free;
  if (first_free <= last_free)
    alts.push_back(Join({Digits(first_free, last_free), AnyDigits(n - 1)}));
  if (hi_tail != nines) alts.push_back(Join({Digits(hi[0], hi[0]), SameLength(zeros, hi_tail)}));
  if (alts.size() == 1) return alts[0];
  return absl::StrCat("(", absl::StrJoin(alts, " | "), ")");
}

// Non-negative integers in [a, b] (b nullopt = unbounded), as alternatives.
void NonNegative(int64_t a, std::optional<int64_t> b, std::vector<std::string>* alts) {
  const std::string as = std::to_string(a);
  if (!b.has_value()) {
    // Same digit count as a, then any longer number.
    alts->push_back(SameLength(as, std::string(as.size(), '9')));
    alts->push_back(absl::StrCat("[1-9] [0-9]{", as.size(), ",}"));
    return;
  }
  const std::string bs = std::to_string(*b);
  for (size_t len = as.size(); len <= bs.size(); ++len) {
    const std::string lo = len == as.size() ? as : "1" + std::string(len - 1, '0');
    const std::string hi = len == bs.size() ? bs : std::string(len, '9');
    alts->push_back(SameLength(lo, hi));
  }
}

std::string Alternation(const std::vector<std::string>& alts) {
  if (alts.size() == 1) return alts[0];
  return absl::StrCat("(", absl::StrJoin(alts, " | "), ")");
}

}  // namespace

std::string IntegerRangeGbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  // Negative part: -m for m in [max(1, -hi), -lo].
  if (!lo.has_value() || *lo < 0) {
    const int64_t m_lo = hi.has_value() && *hi < 0 ? -*hi : 1;
    std::optional<int64_t> m_hi;
    if (lo.has_value()) m_hi = -*lo;
    std::vector<std::string> neg;
    NonNegative(m_lo, m_hi, &neg);
    alts.push_back(absl::StrCat("\"-\" ", Alternation(neg)));
  }
  if (!hi.has_value() || *hi >= 0) {
    NonNegative(lo.has_value() && *lo > 0 ? *lo : 0, hi, &alts);
  }
  return Alternation(alts);
}

std::string NumberRangeGbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  const std::string frac = "(\".\" [0-9]+)?";
  const std::string zero_frac = "(\".\" \"0\"+)?";
  std::vector<std::string> alts;
  // Non-negative values I.F (no sign): I.F >= a <=> I >= a; I.F <= b <=>
  // I < b or (I == b and F is zero).
  if (!hi.has_value() || *hi >= 0) {
    const int64_t a = lo.has_value() && *lo > 0 ? *lo : 0;
    if (!hi.has_value()) {
      alts.push_back(absl::StrCat(IntegerRangeGbnf(a, std::nullopt), " ", frac));
    } else {
      if (a <= *hi - 1) alts.push_back(absl::StrCat(IntegerRangeGbnf(a, *hi - 1), " ", frac));
      alts.push_back(absl::StrCat("\"", *hi, "\" ", zero_frac));
    }
  }
  // Negative values -(I.F), I.F > 0 spelled with '-': -(I.F) >= lo <=>
  // I.F <= -lo; -(I.F) <= hi (hi < 0) <=> I >= -hi. "-0..." is left out
  // when hi < 0 (it equals 0) and kept otherwise (0 is in range).
  if (!lo.has_value() || *lo < 0) {
    const int64_t a = hi.has_value() && *hi < 0 ? -*hi : 0;
    std::vector<std::string> neg;
    if (!lo.has_value()) {
      neg.push_back(absl::StrCat(IntegerRangeGbnf(a, std::nullopt), " ", frac));
    } else {
      const int64_t b = -*lo;
      if (a <= b - 1) neg.push_back(absl::StrCat(IntegerRangeGbnf(a, b - 1), " ", frac));
      neg.push_back(absl::StrCat("\"", b, "\" ", zero_frac));
    }
    alts.push_back(absl::StrCat("\"-\" ", Alternation(neg)));
  }
  return Alternation(alts);
}

}  // namespace inferd::engine
