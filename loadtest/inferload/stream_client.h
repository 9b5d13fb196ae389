// loadtest/inferload/stream_client.h — the gRPC LoadClient: many concurrent
// streaming Generate calls over one channel, without a thread per call.
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
#include "loadtest/inferload/load_client.h"
#include "loadtest/inferload/request_record.h"
#include "loadtest/inferload/workload.h"

namespace inferd::inferload {

// The Generate request for `spec`: ids or text, max_tokens, ignore_eos (so
// the output has the length asked for), temperature, priority.
v1::GenerateRequest ToGenerateRequest(const RequestSpec& spec, const SamplingOptions& sampling);

class StreamClient final : public LoadClient {
 public:
  // Record times are seconds since `start`.
  StreamClient(std::shared_ptr<grpc::Channel> channel, Clock::time_point start,
               SamplingOptions sampling);
  // Cancels what is still in flight and waits for it to finish.
  ~StreamClient() override;
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // A Generate call (ToGenerateRequest).
  void Start(const RequestSpec& spec, RequestRecord record) override;
  void WaitForFinished(Clock::time_point deadline, std::vector<RequestRecord>* out) override;
  int64_t in_flight() const override;
  void CancelAll() override;

 private:
  class Call;
  // Called by a call's OnDone (a gRPC thread) as its last action.
  void OnCallDone(uint64_t id);

  std::unique_ptr<v1::Inference::Stub> stub_;
  const SamplingOptions sampling_;
  uint64_t next_id_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable finished_cv_;
  std::map<uint64_t, std::unique_ptr<Call>> calls_;  // guarded by mutex_
  std::vector<uint64_t> finished_;                   // guarded by mutex_
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_STREAM_CLIENT_H_
