// loadtest/maskbench_json_dumps.h — MaskBench's instance text, exactly:
// Python's `json.dumps(json.loads(text), indent=None, ensure_ascii=False)`.
//
// MaskBench feeds each test instance to the matcher as the bytes Python's
// json module writes, so the token sequence (Llama 3 tokenizer) is only the
// same as the reference harness's when the text is byte-identical. What
// that takes, and what this module reproduces:
//   - objects keep the file's key order; a duplicate key keeps its first
//     position and its last value (a Python dict);
//   - integers are exact at any size ("-0" becomes "0"); a number with a
//     fraction or exponent is a float (a double, "1E2" -> 100.0) printed by
//     float.__repr__: the shortest round-trip digits, fixed notation when
//     the decimal exponent is in (-4, 16] with ".0" added to whole numbers,
//     otherwise "1e-05" / "1.5e+16"; NaN, Infinity, -Infinity (which
//     json.loads also reads) as themselves;
//   - separators ", " and ": "; strings as UTF-8 with only `"`, `\` and the
//     control characters below 0x20 escaped (\n \r \t \b \f, else \u00xx);
//     \uXXXX escapes in the input decoded (surrogate pairs joined; a lone
//     surrogate kept as its 3-byte form, which Python could not encode).
#ifndef INFERD_LOADTEST_MASKBENCH_JSON_DUMPS_H_
#define INFERD_LOADTEST_MASKBENCH_JSON_DUMPS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::loadtest {

// A JSON value as json.loads builds it.
struct PyJson {
  enum class Kind { kNull, kBool, kInt, kFloat, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0.0;        // kFloat
  std::string text;           // kInt: the digits (with '-'); kString: UTF-8 bytes
  std::vector<PyJson> items;  // kArray
  std::vector<std::pair<std::string, PyJson>> members;  // kObject, in order

  // The member's value, or nullptr (kObject only; nullptr otherwise).
  const PyJson* Find(std::string_view key) const;
};

// Parses JSON text as json.loads does (strict: no control characters inside
// strings, no trailing commas). Errors name the byte offset.
absl::StatusOr<PyJson> ParsePyJson(std::string_view text);

// json.dumps(value, indent=None, ensure_ascii=False).
std::string PyJsonDumps(const PyJson& value);
void AppendPyJsonDumps(const PyJson& value, std::string* out);

// float.__repr__ (json.dumps's spelling for NaN and the infinities).
std::string PythonFloatRepr(double value);

}  // namespace inferd::loadtest

#endif  // INFERD_LOADTEST_MASKBENCH_JSON_DUMPS_H_
