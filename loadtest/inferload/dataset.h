// loadtest/inferload/dataset.h — a JSONL prompt dataset (--workload FILE.jsonl).
//
// Each non-blank line is an object with `prompt` (non-empty text, sent as
// text) and optionally `max_tokens` or `output_len` (the tokens to generate,
// >= 1; absent: the run's output length). Other fields are ignored.
#ifndef INFERD_LOADTEST_INFERLOAD_DATASET_H_
#define INFERD_LOADTEST_INFERLOAD_DATASET_H_

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::inferload {

struct DatasetEntry {
  std::string prompt;
  std::optional<int> output_len;
  int line = 0;  // 1-based line in the file
};

// INVALID_ARGUMENT naming `file`, the line and the field for a bad line, and
// for a dataset without entries.
absl::StatusOr<std::vector<DatasetEntry>> ParseDataset(std::istream& in, const std::string& file);
absl::StatusOr<std::vector<DatasetEntry>> LoadDataset(const std::string& path);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_DATASET_H_
