// loadtest/inferload/jsonl.h — reading JSON Lines files (datasets, traces):
// one JSON object per line, blank lines skipped, and typed field readers whose
// errors name the file, the line number and the field:
//   "trace.jsonl:7: field 'arrival_s': expected a number, got \"soon\"".
#ifndef INFERD_LOADTEST_INFERLOAD_JSONL_H_
#define INFERD_LOADTEST_INFERLOAD_JSONL_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace inferd::inferload {

// One line's object and where it came from. Does not own the object.
class JsonlLine {
 public:
  JsonlLine(const std::string& file, int line_number, const nlohmann::json& object)
      : file_(file), line_number_(line_number), object_(object) {}

  int line_number() const { return line_number_; }
  bool Has(const char* field) const { return object_.contains(field); }

  // INVALID_ARGUMENT "FILE:LINE: field 'FIELD': WHAT" (no field part when
  // `field` is empty).
  absl::Status Error(const std::string& field, const std::string& what) const;

  // Absent: nullopt. Present with the wrong type or range: an Error.
  absl::StatusOr<std::optional<std::string>> OptionalString(const char* field) const;
  absl::StatusOr<std::optional<double>> OptionalFiniteNumber(const char* field) const;
  absl::StatusOr<std::optional<int64_t>> OptionalPositiveInt(const char* field) const;

  // Two spellings of one integer field (e.g. max_tokens / output_len): the
  // one present; an Error when both are.
  absl::StatusOr<std::optional<int64_t>> OptionalPositiveIntEither(const char* field,
                                                                   const char* alias) const;

 private:
  const std::string& file_;
  int line_number_;
  const nlohmann::json& object_;
};

using JsonlLineFn = std::function<absl::Status(const JsonlLine&)>;

// Calls `fn` on each non-blank line of `in` (named `file` in messages); stops
// at the first line that is not a JSON object or that `fn` rejects.
absl::Status ForEachJsonlObject(std::istream& in, const std::string& file, const JsonlLineFn& fn);

// The same over the file at `path` (NOT_FOUND when it cannot be opened).
absl::Status ForEachJsonlObjectInFile(const std::string& path, const JsonlLineFn& fn);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_JSONL_H_
