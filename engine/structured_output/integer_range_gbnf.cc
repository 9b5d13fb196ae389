// engine/structured_output/integer_range_gbnf.cc — see integer_range_gbnf.h.
//
// Non-negative [a, b] splits by digit count; each same-length range
// [lo, hi] recurses on the first digit: a shared first digit, or lo's first
// digit then anything >= lo's tail, the digits strictly between with any
// tail, and hi's first digit then anything <= hi's tail.
#include "engine/structured_output/integer_range_gbnf.h"

#include <string>
#include <string_view>
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

namespace {

bool AllZero(std::string_view digits) {
  return digits.find_first_not_of('0') == std::string_view::npos;
}

std::string DigitClass(char lo, char hi) { return Digits(lo, hi); }

// Non-empty digit strings d with 0.d >= 0.x ("" when none beyond what the
// caller handles); `or_empty` reports whether no digits at all (0) is >= 0.x.
std::string FracGe(std::string_view x, bool* or_empty) {
  *or_empty = AllZero(x);
  if (AllZero(x)) return "[0-9]+";
  std::vector<std::string> alts;
  if (x[0] < '9')
    alts.push_back(absl::StrCat(DigitClass(static_cast<char>(x[0] + 1), '9'), " [0-9]*"));
  bool rest_empty = false;
  const std::string rest = FracGe(x.substr(1), &rest_empty);
  alts.push_back(
      absl::StrCat("\"", std::string(1, x[0]), "\" ", rest_empty ? "(" + rest + ")?" : rest));
  return Alternation(alts);
}

// Non-empty digit strings d with 0.d <= 0.x; no digits (0) always is.
std::string FracLe(std::string_view x) {
  if (AllZero(x)) return "\"0\"+";
  std::vector<std::string> alts;
  if (x[0] > '0')
    alts.push_back(absl::StrCat(DigitClass('0', static_cast<char>(x[0] - 1)), " [0-9]*"));
  alts.push_back(absl::StrCat("\"", std::string(1, x[0]), "\" (", FracLe(x.substr(1)), ")?"));
  return Alternation(alts);
}

// Non-empty digit strings d with 0.x <= 0.d <= 0.y (0.x <= 0.y).
std::string FracBetween(std::string_view x, std::string_view y, bool* or_empty) {
  if (AllZero(x)) {
    *or_empty = true;
    return FracLe(y);
  }
  *or_empty = false;
  const char x0 = x[0];
  const char y0 = y.empty() ? '0' : y[0];
  const std::string_view xr = x.substr(1);
  const std::string_view yr = y.empty() ? y : y.substr(1);
  if (x0 == y0) {
    bool rest_empty = false;
    const std::string rest = FracBetween(xr, yr, &rest_empty);
    return absl::StrCat("\"", std::string(1, x0), "\" ", rest_empty ? "(" + rest + ")?" : rest);
  }
  std::vector<std::string> alts;
  bool ge_empty = false;
  const std::string ge = FracGe(xr, &ge_empty);
  alts.push_back(absl::StrCat("\"", std::string(1, x0), "\" ", ge_empty ? "(" + ge + ")?" : ge));
  if (x0 + 1 <= y0 - 1) {
    alts.push_back(
        absl::StrCat(DigitClass(static_cast<char>(x0 + 1), static_cast<char>(y0 - 1)), " [0-9]*"));
  }
  alts.push_back(absl::StrCat("\"", std::string(1, y0), "\" (", FracLe(yr), ")?"));
  return Alternation(alts);
}

std::string WithFraction(const std::string& int_part, const std::string& frac, bool or_empty) {
  return absl::StrCat(int_part, " ", or_empty ? "(\".\" " + frac + ")?" : "\".\" " + frac);
}

// Non-negative decimals I.F (no sign) with a <= I.F <= b (b nullopt: none).
void NonNegativeDecimals(const DecimalBound& a, const std::optional<DecimalBound>& b,
                         std::vector<std::string>* alts) {
  const std::string any_frac = "(\".\" [0-9]+)?";
  const std::string a_int = absl::StrCat("\"", a.int_part, "\"");
  if (b && b->int_part == a.int_part) {
    bool or_empty = false;
    const std::string f = FracBetween(a.frac, b->frac, &or_empty);
    alts->push_back(WithFraction(a_int, f, or_empty));
    return;
  }
  bool ge_empty = false;
  const std::string ge = FracGe(a.frac, &ge_empty);
  alts->push_back(WithFraction(a_int, ge, ge_empty));
  if (!b) {
    alts->push_back(absl::StrCat(IntegerRangeGbnf(a.int_part + 1, std::nullopt), " ", any_frac));
    return;
  }
  if (a.int_part + 1 <= b->int_part - 1) {
    alts->push_back(absl::StrCat(IntegerRangeGbnf(a.int_part + 1, b->int_part - 1), " ", any_frac));
  }
  alts->push_back(WithFraction(absl::StrCat("\"", b->int_part, "\""), FracLe(b->frac), true));
}

}  // namespace

std::string NumberRangeGbnf(const std::optional<DecimalBound>& lo,
                            const std::optional<DecimalBound>& hi) {
  const auto is_zero = [](const DecimalBound& d) { return d.int_part == 0 && AllZero(d.frac); };
  const bool lo_negative = !lo || (lo->negative && !is_zero(*lo));
  const bool hi_negative = hi && hi->negative && !is_zero(*hi);
  std::vector<std::string> alts;
  if (!hi_negative) {  // values >= 0, spelled without '-'
    DecimalBound a;
    if (lo && !lo_negative) a = *lo;
    NonNegativeDecimals(a, hi, &alts);
  }
  if (lo_negative) {  // values <= 0 spelled -I.F: I.F in [max(-hi, 0), -lo]
    DecimalBound a;
    if (hi_negative) {
      a = *hi;
      a.negative = false;
    }
    std::optional<DecimalBound> b;
    if (lo) {
      b = *lo;
      b->negative = false;
    }
    std::vector<std::string> neg;
    NonNegativeDecimals(a, b, &neg);
    alts.push_back(absl::StrCat("\"-\" ", Alternation(neg)));
  }
  return Alternation(alts);
}

}  // namespace inferd::engine
