// loadtest/inferload/request_record.h — what inferload observed of one
// request: when it was due and sent, when each chunk carrying tokens arrived
// and how many it carried, when the call ended and how, and the server's
// usage. Times are seconds since the start of the run (steady clock).
// Written by the stream client's reactor while the call runs; read by the
// metrics once the call is done.
#ifndef INFERD_LOADTEST_INFERLOAD_REQUEST_RECORD_H_
#define INFERD_LOADTEST_INFERLOAD_REQUEST_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

namespace inferd::inferload {

// A response chunk that carried at least one token.
struct TokenChunk {
  double arrival_s = 0;
  int tokens = 0;
};

struct RequestRecord {
  int64_t index = -1;
  double due_s = 0;   // when the schedule wanted it sent
  double send_s = 0;  // when the call was started
  double end_s = 0;   // when the call finished (status received)
  std::vector<TokenChunk> chunks;
  int64_t output_tokens = 0;  // tokens received (sum over chunks)

  // gRPC status code number (grpc::StatusCode; the same numbering as
  // absl::StatusCode); 0 = OK.
  int status_code = 0;
  std::string error_message;

  // From the last chunk's `usage`, when it arrived.
  bool has_usage = false;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;

  int64_t expected_prompt_len = 0;  // from the workload
  int64_t max_tokens = 0;

  bool ok() const { return status_code == 0; }
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_REQUEST_RECORD_H_
