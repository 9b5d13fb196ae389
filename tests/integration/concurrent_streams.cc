// tests/integration/concurrent_streams.cc
#include "tests/integration/concurrent_streams.h"

#include <utility>

namespace inferd::testing {

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::shared_ptr<grpc::Channel> NewDedicatedChannel(const std::string& address,
                                                   int receive_window_bytes) {
  grpc::ChannelArguments args;
  // A subchannel (TCP connection) of its own, not shared with other channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (receive_window_bytes > 0) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, receive_window_bytes);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// One call. Its outcome is guarded by the owner's mutex. A call that may
// stop reading holds the reactor (AddHold) so that OnDone waits for the
// read ResumeReading starts from another thread.
class ConcurrentStreams::Call final : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  Call(ConcurrentStreams* owner, StreamPlan plan) : owner_(owner), plan_(std::move(plan)) {}

  void Begin(v1::Inference::Stub* stub) {
    start_ = Clock::now();
    context_.set_deadline(std::chrono::system_clock::now() + plan_.deadline);
    stub->async()->Generate(&context_, &plan_.request, this);
    holding_ = plan_.stop_reading_after_chunks >= 0;
    if (holding_) AddHold();
    StartRead(&chunk_);
    StartCall();
    if (plan_.cancel_after_chunks == 0) context_.TryCancel();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the stream ended; the status follows in OnDone
      Release();
      return;
    }
    bool cancel = false;
    bool read_more = true;
    {
      std::lock_guard<std::mutex> lock(owner_->mutex_);
      ++outcome_.chunks;
      outcome_.tokens += chunk_.token_ids_size();
      for (const v1::TokenLogprob& lp : chunk_.logprobs())
        outcome_.logprob_entries += lp.top_size();
      if (chunk_.token_ids_size() > 0 && outcome_.ttft_s < 0)
        outcome_.ttft_s = SecondsSince(start_);
      if (chunk_.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
        outcome_.finish_reason = chunk_.finish_reason();
      }
      cancel = plan_.cancel_after_chunks > 0 && outcome_.chunks == plan_.cancel_after_chunks;
      if (!resumed_ && plan_.stop_reading_after_chunks >= 0 &&
          outcome_.chunks >= plan_.stop_reading_after_chunks) {
        outcome_.stalled = true;
        read_more = false;
      }
    }
    if (cancel) context_.TryCancel();
    if (read_more) {
      StartRead(&chunk_);
    } else {
      owner_->changed_.notify_all();
    }
  }

  void OnDone(const grpc::Status& status) override {
    // Notified under the lock: once a waiter sees `done`, this call touches
    // nothing of the owner (which may then be destroyed).
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    outcome_.done = true;
    outcome_.status = status;
    outcome_.e2e_s = SecondsSince(start_);
    owner_->changed_.notify_all();
  }

  // From the owner's thread: a stalled call reads again. Call with the
  // owner's mutex not held.
  void Resume() {
    {
      std::lock_guard<std::mutex> lock(owner_->mutex_);
      if (!outcome_.stalled || resumed_) return;
      resumed_ = true;
    }
    StartRead(&chunk_);
    Release();
  }

  void Cancel() { context_.TryCancel(); }

  // Under the owner's mutex.
  const StreamOutcome& outcome() const { return outcome_; }
  bool resumed() const { return resumed_; }

 private:
  // Drops the hold once (after the stream ended or the read resumed).
  void Release() {
    bool release = false;
    {
      std::lock_guard<std::mutex> lock(owner_->mutex_);
      release = holding_ && (resumed_ || !outcome_.stalled);
      if (release) holding_ = false;
    }
    if (release) RemoveHold();
  }

  ConcurrentStreams* const owner_;
  StreamPlan plan_;
  grpc::ClientContext context_;
  v1::GenerateResponse chunk_;
  Clock::time_point start_;
  StreamOutcome outcome_;  // guarded by owner_->mutex_
  bool resumed_ = false;   // guarded by owner_->mutex_
  bool holding_ = false;   // guarded by owner_->mutex_ after Begin
};

ConcurrentStreams::ConcurrentStreams(std::shared_ptr<grpc::Channel> channel)
    : ConcurrentStreams(std::vector<std::shared_ptr<grpc::Channel>>{std::move(channel)}) {}

ConcurrentStreams::ConcurrentStreams(std::vector<std::shared_ptr<grpc::Channel>> channels)
    : timer_thread_([this] { RunTimers(); }) {
  for (const auto& channel : channels) stubs_.push_back(v1::Inference::NewStub(channel));
}

ConcurrentStreams::~ConcurrentStreams() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  timer_thread_.join();
  CancelAll();
  ResumeReading();
  WaitAll(std::chrono::seconds(30));
}

int ConcurrentStreams::Start(const StreamPlan& plan) {
  Call* call = nullptr;
  int index = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    index = static_cast<int>(calls_.size());
    calls_.push_back(std::make_unique<Call>(this, plan));
    call = calls_.back().get();
    if (plan.cancel_after.count() >= 0) timers_.emplace(Clock::now() + plan.cancel_after, index);
  }
  changed_.notify_all();  // the timer thread may need to wake earlier
  call->Begin(stubs_[index % stubs_.size()].get());
  return index;
}

void ConcurrentStreams::RunTimers() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const Clock::time_point due = timers_.begin()->first;
    if (Clock::now() < due) {
      changed_.wait_until(lock, due);
      continue;
    }
    Call* call = calls_[timers_.begin()->second].get();
    timers_.erase(timers_.begin());
    lock.unlock();
    call->Cancel();  // gRPC may run the call's reactions inline
    lock.lock();
  }
}

bool ConcurrentStreams::WaitAll(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] {
    for (const auto& call : calls_) {
      if (!call->outcome().done) return false;
    }
    return true;
  });
}

bool ConcurrentStreams::WaitStalledOrDone(int n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [this, n] {
    int count = 0;
    for (const auto& call : calls_) {
      count += (call->outcome().done || (call->outcome().stalled && !call->resumed())) ? 1 : 0;
    }
    return count >= n;
  });
}

void ConcurrentStreams::ResumeReading() {
  std::vector<Call*> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& call : calls_) calls.push_back(call.get());
  }
  for (Call* call : calls) call->Resume();
}

void ConcurrentStreams::CancelAll() {
  std::vector<Call*> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& call : calls_) calls.push_back(call.get());
  }
  for (Call* call : calls) call->Cancel();
}

std::vector<StreamOutcome> ConcurrentStreams::Outcomes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StreamOutcome> out;
  out.reserve(calls_.size());
  for (const auto& call : calls_) out.push_back(call->outcome());
  return out;
}

int ConcurrentStreams::NumDone() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& call : calls_) n += call->outcome().done ? 1 : 0;
  return n;
}

}  // namespace inferd::testing
