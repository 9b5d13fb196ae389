// server/request_limits.h — the limits `inferd serve` puts on what one client
// can ask, from their flags:
//
//   --max-request-bytes           largest request message gRPC accepts; larger
//                                 ones fail with RESOURCE_EXHAUSTED before they
//                                 are parsed (gRPC's own check and message)
//   --max-tokens-limit            most max_tokens a Generate request may ask;
//                                 0: the model context
//   --max-streams-per-connection  HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: calls
//                                 open at once on one connection (a client
//                                 queues the rest)
//
// The limits fixed by the API (proto/inferd/v1/inference.proto) stay
// constants: stop strings (16, 256 bytes each), stop token ids (64), logprobs
// (20), request_id (256 bytes); a prompt never exceeds the model context.
#ifndef INFERD_SERVER_REQUEST_LIMITS_H_
#define INFERD_SERVER_REQUEST_LIMITS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace inferd::server {

struct RequestLimits {
  int64_t max_request_bytes = 4 << 20;
  int32_t max_tokens_limit = 0;  // 0: no cap below the model context
  int32_t max_streams_per_connection = 128;
};

// Range-checked flags; INVALID_ARGUMENT naming the flag.
absl::StatusOr<RequestLimits> RequestLimitsFromFlags();

}  // namespace inferd::server

#endif  // INFERD_SERVER_REQUEST_LIMITS_H_
