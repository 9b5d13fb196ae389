// engine/structured_output/integer_range_gbnf.h — GBNF for the decimal
// integers (JSON spelling: no '+', no leading zeros) in a closed range, and
// for JSON numbers between integral bounds (private to
// engine/structured_output; used by json_schema_to_gbnf.cc).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_INTEGER_RANGE_GBNF_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_INTEGER_RANGE_GBNF_H_

#include <cstdint>
#include <optional>
#include <string>

namespace inferd::engine {

// Bounds are within +-kMaxIntegerBound; nullopt = unbounded on that side.
inline constexpr int64_t kMaxIntegerBound = 1'000'000'000'000'000'000;

// A GBNF expression for the integers n with lo <= n <= hi (lo <= hi when
// both are set). "-0" is not produced.
std::string IntegerRangeGbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

// A decimal bound: -?int_part.frac (frac without trailing zeros).
struct DecimalBound {
  bool negative = false;
  int64_t int_part = 0;  // >= 0, <= kMaxIntegerBound
  std::string frac;      // digits after the point
};

// A GBNF expression for JSON numbers without an exponent (-?int(.digits)?)
// whose decimal value v satisfies lo <= v <= hi (lo <= hi when both are
// set). Exact for a validator that parses the number as an IEEE double and
// compares it with the double the bound's shortest spelling denotes:
// rounding is monotonic, so v >= lo as decimals implies double(v) >=
// double(lo). "-0" spellings only where negative values are in range.
std::string NumberRangeGbnf(const std::optional<DecimalBound>& lo,
                            const std::optional<DecimalBound>& hi);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_INTEGER_RANGE_GBNF_H_
