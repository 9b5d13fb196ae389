// loadtest/inferload/report.h — the end of a run: a readable table for stdout
// and the JSON document of --json-out (schema in README.md, "inferload").
// Times are seconds in the JSON and milliseconds in the table.
#ifndef INFERD_LOADTEST_INFERLOAD_REPORT_H_
#define INFERD_LOADTEST_INFERLOAD_REPORT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "loadtest/inferload/metrics.h"
#include "nlohmann/json.hpp"

namespace inferd::inferload {

// What the run was, besides its numbers.
struct RunInfo {
  std::string model;     // served model name ("" when unknown)
  std::string protocol;  // "grpc HOST:PORT", "openai http://HOST:PORT/v1/completions"
  std::string arrivals;  // "poisson, 20 req/s", "closed loop, concurrency 4", ...
  std::string workload;  // "random", "shared-prefix", "dataset FILE", "trace FILE"
  bool stopped_by_max_duration = false;
  bool interrupted = false;                          // SIGINT ended the run early
  std::optional<std::string> setup_error;            // the run could not start (nothing sent)
  int64_t skipped_prompts = 0;                       // dataset prompts too long for the context
  nlohmann::json config = nlohmann::json::object();  // flags after defaults, SLOs, model facts
};

std::string FormatTable(const RunMetrics& metrics, const RunInfo& info);

nlohmann::json ToJson(const RunMetrics& metrics, const RunInfo& info);

// Writes `json` (indented) to `path`; an error naming the path.
absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_REPORT_H_
