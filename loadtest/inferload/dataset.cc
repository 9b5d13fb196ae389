// loadtest/inferload/dataset.cc
#include "loadtest/inferload/dataset.h"

#include "absl/strings/str_cat.h"
#include "loadtest/inferload/jsonl.h"

namespace inferd::inferload {

namespace {

absl::Status ParseLine(const JsonlLine& line, DatasetEntry* entry) {
  entry->line = line.line_number();
  absl::StatusOr<std::optional<std::string>> prompt = line.OptionalString("prompt");
  if (!prompt.ok()) return prompt.status();
  if (!prompt->has_value()) return line.Error("prompt", "missing (every line needs a prompt)");
  if ((*prompt)->empty()) return line.Error("prompt", "must not be empty");
  entry->prompt = std::move(**prompt);
  absl::StatusOr<std::optional<int64_t>> output_len =
      line.OptionalPositiveIntEither("max_tokens", "output_len");
  if (!output_len.ok()) return output_len.status();
  if (output_len->has_value()) entry->output_len = static_cast<int>(**output_len);
  return absl::OkStatus();
}

JsonlLineFn Collect(std::vector<DatasetEntry>* entries) {
  return [entries](const JsonlLine& line) -> absl::Status {
    DatasetEntry entry;
    if (absl::Status status = ParseLine(line, &entry); !status.ok()) return status;
    entries->push_back(std::move(entry));
    return absl::OkStatus();
  };
}

absl::StatusOr<std::vector<DatasetEntry>> Finish(const std::string& file,
                                                 std::vector<DatasetEntry> entries) {
  if (entries.empty()) return absl::InvalidArgumentError(absl::StrCat(file, ": no prompts"));
  return entries;
}

}  // namespace

absl::StatusOr<std::vector<DatasetEntry>> ParseDataset(std::istream& in, const std::string& file) {
  std::vector<DatasetEntry> entries;
  if (absl::Status status = ForEachJsonlObject(in, file, Collect(&entries)); !status.ok()) {
    return status;
  }
  return Finish(file, std::move(entries));
}

absl::StatusOr<std::vector<DatasetEntry>> LoadDataset(const std::string& path) {
  std::vector<DatasetEntry> entries;
  if (absl::Status status = ForEachJsonlObjectInFile(path, Collect(&entries)); !status.ok()) {
    return status;
  }
  return Finish(path, std::move(entries));
}

}  // namespace inferd::inferload
