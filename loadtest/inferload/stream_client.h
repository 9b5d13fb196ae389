// loadtest/inferload/stream_client.h — many concurrent streaming Generate
// calls over one channel, without a thread per call.
//
// Each call is a gRPC callback reactor (ClientReadReactor): gRPC's own
// threads run its OnReadDone/OnDone, which stamp every chunk carrying tokens
// (time and count), the usage and the final status into the call's
// RequestRecord. A finished call is queued; the owner (one thread, the load
// runner) collects finished records with WaitForFinished and frees the calls.
// Start, WaitForFinished and CancelAll are for that one owning thread.
#ifndef INFERD_LOADTEST_INFERLOAD_STREAM_CLIENT_H_
#define INFERD_LOADTEST_INFERLOAD_STREAM_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "loadtest/inferload/request_record.h"

namespace inferd::inferload {

class StreamClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Record times are seconds since `start`.
  StreamClient(std::shared_ptr<grpc::Channel> channel, Clock::time_point start);
  // Cancels what is still in flight and waits for it to finish.
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Starts a Generate call now. `record` carries the caller's fields (index,
  // due_s, expected_prompt_len, max_tokens); the client fills in the rest.
  void Start(const v1::GenerateRequest& request, RequestRecord record);

  // Blocks until at least one call has finished or `deadline` passes, then
  // moves the records of all finished calls to `out`.
  void WaitForFinished(Clock::time_point deadline, std::vector<RequestRecord>* out);

  // Calls started and not yet collected by WaitForFinished.
  int64_t in_flight() const;

  // Cancels every call in flight (each ends with CANCELLED, unless it was
  // already finishing); collect them with WaitForFinished.
  void CancelAll();

  // Seconds since `start`.
  double Now() const;

 private:
  class Call;
  // Called by a call's OnDone (a gRPC thread) as its last action.
  void OnCallDone(uint64_t id);

  std::unique_ptr<v1::Inference::Stub> stub_;
  const Clock::time_point start_;
  uint64_t next_id_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable finished_cv_;
  std::map<uint64_t, std::unique_ptr<Call>> calls_;  // guarded by mutex_
  std::vector<uint64_t> finished_;                   // guarded by mutex_
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_STREAM_CLIENT_H_
