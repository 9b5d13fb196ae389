// tests/integration/concurrent_streams.h — many Generate calls at once from
// one test thread, for the overload and fault tests: gRPC callback reactors
// (no thread per call), each following a plan (cancel after k chunks or
// after a delay, stop reading after k chunks), each recording its outcome
// (status, chunks, tokens, time to the first token, time to the status).
//
// Calls live until the ConcurrentStreams is destroyed (its destructor
// cancels what still runs and waits for it), so outcomes can be read at any
// time. Start, StartCancelTimer, Outcomes and WaitAll are for the owning
// thread; gRPC's threads run the reactions.
#ifndef INFERD_TESTS_INTEGRATION_CONCURRENT_STREAMS_H_
#define INFERD_TESTS_INTEGRATION_CONCURRENT_STREAMS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"

namespace inferd::testing {

struct StreamPlan {
  v1::GenerateRequest request;
  // The call's gRPC deadline, from its start.
  std::chrono::milliseconds deadline = std::chrono::seconds(120);
  // TryCancel once this many chunks were read (-1: never; 0: right after the
  // call starts).
  int cancel_after_chunks = -1;
  // TryCancel this long after the start (negative: never).
  std::chrono::milliseconds cancel_after{-1};
  // Stop reading once this many chunks were read (-1: never): a client that
  // hangs. ResumeReading() reads again.
  int stop_reading_after_chunks = -1;
};

struct StreamOutcome {
  bool done = false;  // the status arrived
  grpc::Status status;
  int chunks = 0;
  int tokens = 0;
  int64_t logprob_entries = 0;  // top logprobs received, all tokens together
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
  double ttft_s = -1;    // start -> first chunk carrying tokens (-1: none)
  double e2e_s = -1;     // start -> status
  bool stalled = false;  // stopped reading (stop_reading_after_chunks reached)
};

// A channel with a connection of its own (a separate TCP connection, as a
// separate client would have). `receive_window_bytes` > 0 shrinks the
// HTTP/2 receive window (and turns off its automatic growth), so a client
// that stops reading stalls the server's writes after that many bytes.
std::shared_ptr<grpc::Channel> NewDedicatedChannel(const std::string& address,
                                                   int receive_window_bytes = 0);

class ConcurrentStreams {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConcurrentStreams(std::shared_ptr<grpc::Channel> channel);
  // Several channels: call i goes to channels[i % size].
  explicit ConcurrentStreams(std::vector<std::shared_ptr<grpc::Channel>> channels);
  ~ConcurrentStreams();
  ConcurrentStreams(const ConcurrentStreams&) = delete;
  ConcurrentStreams& operator=(const ConcurrentStreams&) = delete;

  // Starts a call now; returns its index (outcomes are in start order).
  int Start(const StreamPlan& plan);

  // Waits until every started call has its status; false after `timeout`.
  bool WaitAll(std::chrono::milliseconds timeout);
  // Waits until `n` calls have stalled (stopped reading) or ended; false
  // after `timeout`.
  bool WaitStalledOrDone(int n, std::chrono::milliseconds timeout);
  // Stalled calls read again, to their end.
  void ResumeReading();
  // TryCancel on every call.
  void CancelAll();

  std::vector<StreamOutcome> Outcomes() const;
  int NumDone() const;

 private:
  class Call;
  // The timer thread: TryCancel on calls whose cancel_after is due.
  void RunTimers();

  std::vector<std::unique_ptr<v1::Inference::Stub>> stubs_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Call>> calls_;      // append-only; guarded by mutex_
  std::multimap<Clock::time_point, int> timers_;  // guarded by mutex_
  bool stopping_ = false;                         // guarded by mutex_
  std::thread timer_thread_;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_CONCURRENT_STREAMS_H_
