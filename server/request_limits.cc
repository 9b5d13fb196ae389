// server/request_limits.cc
#include "server/request_limits.h"

#include <limits>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/flags.h"

namespace inferd::server {

namespace {

constexpr int64_t kMinRequestBytes = 1024;  // below that, normal requests would not fit

}  // namespace

absl::StatusOr<RequestLimits> RequestLimitsFromFlags() {
  RequestLimits limits;
  limits.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes).bytes;
  limits.max_tokens_limit = absl::GetFlag(FLAGS_max_tokens_limit);
  limits.max_streams_per_connection = absl::GetFlag(FLAGS_max_streams_per_connection);
  if (limits.max_request_bytes < kMinRequestBytes ||
      limits.max_request_bytes > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("--max-request-bytes must be in [",
                                                   kMinRequestBytes, ", 2GiB), got ",
                                                   limits.max_request_bytes));
  }
  if (limits.max_tokens_limit < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-tokens-limit must be >= 0 (0: the model context), got ", limits.max_tokens_limit));
  }
  if (limits.max_streams_per_connection < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-streams-per-connection must be >= 1, got ", limits.max_streams_per_connection));
  }
  return limits;
}

}  // namespace inferd::server
