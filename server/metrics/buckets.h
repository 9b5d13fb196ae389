// server/metrics/buckets.h — the histogram bucket boundaries of the inferd:
// metrics, vLLM v1's (vllm/v1/metrics/loggers.py) so that dashboards and
// SLO queries written for vLLM read the same le="..." buckets.
#ifndef INFERD_SERVER_METRICS_BUCKETS_H_
#define INFERD_SERVER_METRICS_BUCKETS_H_

#include <cstdint>
#include <vector>

namespace inferd::server {

// Time to first token, seconds: 0.001 .. 2560.
std::vector<double> TimeToFirstTokenBuckets();
// Inter-token latency and time per output token, seconds: 0.01 .. 80.
std::vector<double> PerTokenLatencyBuckets();
// e2e, queue, prefill and decode times of a request, seconds: 0.3 .. 7680.
std::vector<double> RequestLatencyBuckets();
// 1, 2, 5, 10, 20, 50, ... up to `max_value` (vLLM's build_1_2_5_buckets):
// token counts of one request, with max_value the model context.
std::vector<double> OneTwoFiveBuckets(int64_t max_value);
// Tokens in one engine step: 1, 8, 16, 32, ..., 16384 below
// `max_num_batched_tokens`, then max_num_batched_tokens itself (the most a
// step computes).
std::vector<double> IterationTokenBuckets(int64_t max_num_batched_tokens);

}  // namespace inferd::server

#endif  // INFERD_SERVER_METRICS_BUCKETS_H_
