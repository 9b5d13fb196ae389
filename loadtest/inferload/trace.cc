// loadtest/inferload/trace.cc
#include "loadtest/inferload/trace.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "loadtest/inferload/jsonl.h"

namespace inferd::inferload {

namespace {

absl::Status ParseLine(const JsonlLine& line, TraceEntry* entry) {
  entry->line = line.line_number();
  if (line.Has("arrival_s") && line.Has("timestamp")) {
    return line.Error("arrival_s", "give either 'arrival_s' or 'timestamp', not both");
  }
  const char* time_field = line.Has("timestamp") ? "timestamp" : "arrival_s";
  absl::StatusOr<std::optional<double>> time = line.OptionalFiniteNumber(time_field);
  if (!time.ok()) return time.status();
  if (!time->has_value()) {
    return line.Error("arrival_s", "missing (every line needs 'arrival_s' or 'timestamp')");
  }
  if (std::string(time_field) == "arrival_s" && **time < 0) {
    return line.Error("arrival_s", absl::StrCat("must be >= 0, got ", **time));
  }
  entry->arrival_s = **time;

  if (line.Has("prompt") && line.Has("prompt_len")) {
    return line.Error("prompt", "give either 'prompt' or 'prompt_len', not both");
  }
  absl::StatusOr<std::optional<std::string>> prompt = line.OptionalString("prompt");
  if (!prompt.ok()) return prompt.status();
  absl::StatusOr<std::optional<int64_t>> prompt_len = line.OptionalPositiveInt("prompt_len");
  if (!prompt_len.ok()) return prompt_len.status();
  if (prompt->has_value()) {
    entry->prompt = std::move(**prompt);
  } else if (prompt_len->has_value()) {
    entry->prompt_len = static_cast<int>(**prompt_len);
  } else {
    return line.Error("prompt", "missing (every line needs 'prompt' or 'prompt_len')");
  }

  absl::StatusOr<std::optional<int64_t>> output_len =
      line.OptionalPositiveIntEither("max_tokens", "output_len");
  if (!output_len.ok()) return output_len.status();
  if (output_len->has_value()) entry->output_len = static_cast<int>(**output_len);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TraceEntry>> Finish(const std::string& file,
                                               std::vector<TraceEntry> entries) {
  if (entries.empty()) return absl::InvalidArgumentError(absl::StrCat(file, ": no requests"));
  std::stable_sort(entries.begin(), entries.end(), [](const TraceEntry& a, const TraceEntry& b) {
    return a.arrival_s < b.arrival_s;
  });
  const double start = entries.front().arrival_s;
  for (TraceEntry& entry : entries) entry.arrival_s -= start;
  return entries;
}

JsonlLineFn Collect(std::vector<TraceEntry>* entries) {
  return [entries](const JsonlLine& line) -> absl::Status {
    TraceEntry entry;
    if (absl::Status status = ParseLine(line, &entry); !status.ok()) return status;
    entries->push_back(std::move(entry));
    return absl::OkStatus();
  };
}

}  // namespace

absl::StatusOr<std::vector<TraceEntry>> ParseTrace(std::istream& in, const std::string& file) {
  std::vector<TraceEntry> entries;
  if (absl::Status status = ForEachJsonlObject(in, file, Collect(&entries)); !status.ok()) {
    return status;
  }
  return Finish(file, std::move(entries));
}

absl::StatusOr<std::vector<TraceEntry>> LoadTrace(const std::string& path) {
  std::vector<TraceEntry> entries;
  if (absl::Status status = ForEachJsonlObjectInFile(path, Collect(&entries)); !status.ok()) {
    return status;
  }
  return Finish(path, std::move(entries));
}

}  // namespace inferd::inferload
