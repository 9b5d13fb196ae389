// loadtest/inferload/metrics.h — the run's numbers from its request records,
// with vLLM benchmark_serving's definitions (all times in seconds):
//   TTFT  first chunk carrying a token - send, per completed request
//   TPOT  (e2e - TTFT) / (output_tokens - 1), completed requests with > 1 token
//   ITL   gap between successive token-carrying chunks of a completed
//         request; a chunk with k tokens contributes one gap (as vLLM does
//         for multi-token chunks), so ITL is per chunk, not per token
//   e2e   end - send, per completed request
// Throughputs divide by `duration_s`: requests (completed), output tokens
// (received by completed requests) and total tokens (prompt + output; prompt
// from the server's usage). Goodput: completed requests per second meeting
// every SLO given (TTFT <= slo_ttft, TPOT <= slo_tpot; a request with one
// token has no TPOT and meets that SLO). Errors: non-OK calls by gRPC code
// name ("RESOURCE_EXHAUSTED"); completed = OK calls.
#ifndef INFERD_LOADTEST_INFERLOAD_METRICS_H_
#define INFERD_LOADTEST_INFERLOAD_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loadtest/inferload/latency_stats.h"
#include "loadtest/inferload/request_record.h"

namespace inferd::inferload {

struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
};

struct RunMetrics {
  int64_t num_requests = 0;  // asked for
  int64_t sent = 0;          // calls started
  int64_t completed = 0;     // calls that ended OK
  std::map<std::string, int64_t> errors;
  double duration_s = 0;

  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;
  double output_token_throughput = 0;
  double total_token_throughput = 0;
  int64_t good_requests = 0;
  double goodput = 0;

  LatencySummary ttft;
  LatencySummary tpot;
  LatencySummary itl;
  LatencySummary e2e;

  int64_t total_cached_tokens = 0;
  double mean_cached_tokens = 0;
  double prefix_hit_ratio = 0;  // cached / prompt tokens of completed requests

  double max_send_lag_s = 0;  // latest send behind schedule (client overload)
};

// The name of a gRPC status code number: "OK", "CANCELLED", ...
std::string StatusCodeName(int code);

// `records`: one per call started (finished calls only).
RunMetrics ComputeMetrics(const std::vector<RequestRecord>& records, int64_t num_requests,
                          double duration_s, const Slo& slo);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_METRICS_H_
