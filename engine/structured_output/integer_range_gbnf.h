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

// A GBNF expression for JSON numbers without an exponent (-?int(.digits)?)
// whose value v satisfies lo <= v <= hi. Exact for a validator that parses
// the number as an IEEE double and compares against the integral bounds:
// rounding is monotonic and every bound within 2^53 is exact.
std::string NumberRangeGbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_INTEGER_RANGE_GBNF_H_
