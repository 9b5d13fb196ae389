// server/request_log.h — the per-request log line (--log-requests): one info
// line per finished Generate call the engine accepted, written by a thread of
// its own.
//
// Why a thread: a reactor learns that its call ended in gRPC callbacks that
// may run on the engine thread (a final chunk's write can complete inline),
// and the engine thread never formats or writes log lines (STYLE rule 11).
// Add() only moves a record of ids and numbers into a queue; the writer
// thread formats it (server/log.h) and writes it. Prompt text is never
// recorded.
//
// Thread-safe. The destructor writes what is queued, then stops the thread.
#ifndef INFERD_SERVER_REQUEST_LOG_H_
#define INFERD_SERVER_REQUEST_LOG_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/request.h"
#include "grpcpp/support/status.h"
#include "server/log.h"

namespace inferd::server {

// What one line reports.
struct RequestRecord {
  std::string request_id;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;
  engine::FinishReason finish_reason = engine::FinishReason::kNone;
  grpc::StatusCode code = grpc::StatusCode::OK;  // how the call ended
  double ttft_s = -1;                            // to the first token sent; -1: none was
  double e2e_s = 0;                              // to the end of the call
};

// The fields of a record's line: request_id, prompt_tokens,
// completion_tokens, cached_tokens, finish_reason, status, ttft_s (null
// without a token), e2e_s.
LogFields RequestLogFields(const RequestRecord& record);

class RequestLog {
 public:
  RequestLog();
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Queues the record; never blocks on I/O. Beyond kMaxQueued pending
  // records, new ones are dropped and counted (reported with the next line).
  void Add(RequestRecord record);

  static constexpr size_t kMaxQueued = 1 << 16;

 private:
  void Run();

  absl::Mutex mu_;
  std::vector<RequestRecord> queue_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_REQUEST_LOG_H_
