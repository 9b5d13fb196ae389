// loadtest/inferload/report.cc
#include "loadtest/inferload/report.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace inferd::inferload {

namespace {

constexpr int kWidth = 60;

nlohmann::json SummaryJson(const LatencySummary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99},
          {"std", s.std},   {"min", s.min}, {"max", s.max}, {"count", s.count}};
}

void Row(std::string* out, const std::string& label, const std::string& value) {
  absl::StrAppendFormat(out, "%-40s %s\n", label + ":", value);
}

std::string Title(const std::string& title, char fill) {
  const int left = (kWidth - static_cast<int>(title.size()) - 2) / 2;
  const int right = kWidth - left - static_cast<int>(title.size()) - 2;
  return absl::StrCat(std::string(std::max(left, 0), fill), " ", title, " ",
                      std::string(std::max(right, 0), fill), "\n");
}

void LatencyRow(std::string* out, const char* name, const LatencySummary& s) {
  absl::StrAppendFormat(out, "%-6s %10.2f %10.2f %10.2f %10.2f %8d\n", name, s.mean * 1e3,
                        s.p50 * 1e3, s.p90 * 1e3, s.p99 * 1e3, s.count);
}

}  // namespace

std::string FormatTable(const RunMetrics& m, const RunInfo& info) {
  std::string out = Title("inferload result", '=');
  if (!info.model.empty()) Row(&out, "Model", info.model);
  if (!info.protocol.empty()) Row(&out, "Protocol", info.protocol);
  Row(&out, "Arrivals", info.arrivals);
  Row(&out, "Workload", info.workload);
  if (info.setup_error.has_value()) Row(&out, "Setup error", *info.setup_error);
  Row(&out, "Requests sent / asked", absl::StrCat(m.sent, " / ", m.num_requests));
  Row(&out, "Completed", absl::StrCat(m.completed));
  int64_t failed = 0;
  std::vector<std::string> by_code;
  for (const auto& [code, count] : m.errors) {
    failed += count;
    by_code.push_back(absl::StrCat(code, " ", count));
  }
  Row(&out, "Errors",
      failed == 0 ? "0" : absl::StrCat(failed, " (", absl::StrJoin(by_code, ", "), ")"));
  if (info.stopped_by_max_duration) Row(&out, "Stopped by --max-duration", "yes");
  if (info.interrupted) Row(&out, "Interrupted (SIGINT)", "yes");
  if (info.skipped_prompts > 0) {
    Row(&out, "Dataset prompts skipped (too long)", absl::StrCat(info.skipped_prompts));
  }
  Row(&out, "Duration (s)", absl::StrFormat("%.2f", m.duration_s));
  Row(&out, "Total input tokens", absl::StrCat(m.total_input_tokens));
  Row(&out, "Total output tokens", absl::StrCat(m.total_output_tokens));
  Row(&out, "Request throughput (req/s)", absl::StrFormat("%.2f", m.request_throughput));
  Row(&out, "Output token throughput (tok/s)", absl::StrFormat("%.2f", m.output_token_throughput));
  Row(&out, "Total token throughput (tok/s)", absl::StrFormat("%.2f", m.total_token_throughput));
  Row(&out, "Goodput (req/s)", absl::StrFormat("%.2f", m.goodput));
  Row(&out, "Mean cached tokens (prefix hit ratio)",
      absl::StrFormat("%.1f (%.1f%%)", m.mean_cached_tokens, m.prefix_hit_ratio * 100));
  Row(&out, "Max send lag behind schedule (ms)", absl::StrFormat("%.1f", m.max_send_lag_s * 1e3));
  out += Title("latency (ms)", '-');
  absl::StrAppendFormat(&out, "%-6s %10s %10s %10s %10s %8s\n", "", "mean", "p50", "p90", "p99",
                        "count");
  LatencyRow(&out, "TTFT", m.ttft);
  LatencyRow(&out, "TPOT", m.tpot);
  LatencyRow(&out, "ITL", m.itl);
  LatencyRow(&out, "E2E", m.e2e);
  out += std::string(kWidth, '=') + "\n";
  return out;
}

nlohmann::json ToJson(const RunMetrics& m, const RunInfo& info) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, count] : m.errors) errors[code] = count;
  return {
      {"completed", m.completed},
      {"errors", errors},
      {"num_requests", m.num_requests},
      {"sent", m.sent},
      {"duration_s", m.duration_s},
      {"request_throughput", m.request_throughput},
      {"output_token_throughput", m.output_token_throughput},
      {"total_token_throughput", m.total_token_throughput},
      {"goodput", m.goodput},
      {"good_requests", m.good_requests},
      {"total_input_tokens", m.total_input_tokens},
      {"total_output_tokens", m.total_output_tokens},
      {"ttft", SummaryJson(m.ttft)},
      {"tpot", SummaryJson(m.tpot)},
      {"itl", SummaryJson(m.itl)},
      {"e2e", SummaryJson(m.e2e)},
      {"cached_tokens",
       {{"total", m.total_cached_tokens},
        {"mean", m.mean_cached_tokens},
        {"hit_ratio", m.prefix_hit_ratio}}},
      {"max_send_lag_s", m.max_send_lag_s},
      {"stopped_by_max_duration", info.stopped_by_max_duration},
      {"interrupted", info.interrupted},
      {"skipped_prompts", info.skipped_prompts},
      {"setup_error",
       info.setup_error.has_value() ? nlohmann::json(*info.setup_error) : nlohmann::json(nullptr)},
      {"model", info.model},
      {"config", info.config},
  };
}

absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write the file"));
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace inferd::inferload
