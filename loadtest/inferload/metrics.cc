// loadtest/inferload/metrics.cc
#include "loadtest/inferload/metrics.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inferd::inferload {

std::string StatusCodeName(int code) {
  // grpc::StatusCode and absl::StatusCode share their numbering.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat("CODE_", code) : name;
}

RunMetrics ComputeMetrics(const std::vector<RequestRecord>& records, int64_t num_requests,
                          double duration_s, const Slo& slo) {
  RunMetrics m;
  m.num_requests = num_requests;
  m.sent = static_cast<int64_t>(records.size());
  m.duration_s = duration_s;
  std::vector<double> ttfts, tpots, itls, e2es;
  for (const RequestRecord& r : records) {
    m.max_send_lag_s = std::max(m.max_send_lag_s, r.send_s - r.due_s);
    if (!r.ok()) {
      ++m.errors[StatusCodeName(r.status_code)];
      continue;
    }
    ++m.completed;
    m.total_output_tokens += r.output_tokens;
    m.total_input_tokens += r.has_usage ? r.prompt_tokens : r.expected_prompt_len;
    m.total_cached_tokens += r.cached_tokens;
    const double e2e = r.end_s - r.send_s;
    e2es.push_back(e2e);
    std::optional<double> ttft, tpot;
    if (!r.chunks.empty()) {
      ttft = r.chunks.front().arrival_s - r.send_s;
      ttfts.push_back(*ttft);
      for (size_t i = 1; i < r.chunks.size(); ++i) {
        itls.push_back(r.chunks[i].arrival_s - r.chunks[i - 1].arrival_s);
      }
    }
    if (ttft.has_value() && r.output_tokens > 1) {
      tpot = (e2e - *ttft) / static_cast<double>(r.output_tokens - 1);
      tpots.push_back(*tpot);
    }
    const bool ttft_ok = !slo.ttft_s.has_value() || (ttft.has_value() && *ttft <= *slo.ttft_s);
    const bool tpot_ok = !slo.tpot_s.has_value() || !tpot.has_value() || *tpot <= *slo.tpot_s;
    if (ttft_ok && tpot_ok) ++m.good_requests;
  }
  if (duration_s > 0) {
    m.request_throughput = static_cast<double>(m.completed) / duration_s;
    m.output_token_throughput = static_cast<double>(m.total_output_tokens) / duration_s;
    m.total_token_throughput =
        static_cast<double>(m.total_input_tokens + m.total_output_tokens) / duration_s;
    m.goodput = static_cast<double>(m.good_requests) / duration_s;
  }
  if (m.completed > 0) {
    m.mean_cached_tokens =
        static_cast<double>(m.total_cached_tokens) / static_cast<double>(m.completed);
  }
  if (m.total_input_tokens > 0) {
    m.prefix_hit_ratio =
        static_cast<double>(m.total_cached_tokens) / static_cast<double>(m.total_input_tokens);
  }
  m.ttft = Summarize(std::move(ttfts));
  m.tpot = Summarize(std::move(tpots));
  m.itl = Summarize(std::move(itls));
  m.e2e = Summarize(std::move(e2es));
  return m;
}

}  // namespace inferd::inferload
