// server/metrics/buckets.cc
#include "server/metrics/buckets.h"

namespace inferd::server {

std::vector<double> TimeToFirstTokenBuckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> PerTokenLatencyBuckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
          0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> RequestLatencyBuckets() {
  return {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

std::vector<double> OneTwoFiveBuckets(int64_t max_value) {
  std::vector<double> out;
  for (int64_t scale = 1; scale <= max_value; scale *= 10) {
    for (int64_t mantissa : {1, 2, 5}) {
      if (mantissa * scale > max_value) return out;
      out.push_back(static_cast<double>(mantissa * scale));
    }
  }
  return out;
}

std::vector<double> IterationTokenBuckets(int64_t max_num_batched_tokens) {
  std::vector<double> out;
  for (int64_t b : {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}) {
    if (b >= max_num_batched_tokens) break;
    out.push_back(static_cast<double>(b));
  }
  out.push_back(static_cast<double>(max_num_batched_tokens));
  return out;
}

}  // namespace inferd::server
