// loadtest/inferload/stream_client.cc
#include "loadtest/inferload/stream_client.h"

#include <utility>

namespace inferd::inferload {

// One Generate call. Owned by StreamClient::calls_; gRPC never touches it
// after OnDone returns, and OnDone's last action hands it back to the owner.
class StreamClient::Call : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  Call(StreamClient* client, uint64_t id, const v1::GenerateRequest& request, RequestRecord record)
      : client_(client), id_(id), request_(request), record_(std::move(record)) {}

  void Start(v1::Inference::Stub* stub) {
    record_.send_s = client_->Now();
    stub->async()->Generate(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // end of stream: OnDone follows
    const double now = client_->Now();
    if (const int tokens = response_.token_ids_size(); tokens > 0) {
      record_.chunks.push_back({now, tokens});
      record_.output_tokens += tokens;
    }
    if (response_.has_usage()) {
      record_.has_usage = true;
      record_.prompt_tokens = response_.usage().prompt_tokens();
      record_.completion_tokens = response_.usage().completion_tokens();
      record_.cached_tokens = response_.usage().cached_tokens();
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    record_.end_s = client_->Now();
    record_.status_code = static_cast<int>(status.error_code());
    record_.error_message = status.error_message();
    client_->OnCallDone(id_);  // the owner may free this call from here on
  }

  void Cancel() { context_.TryCancel(); }
  RequestRecord TakeRecord() { return std::move(record_); }

 private:
  StreamClient* const client_;
  const uint64_t id_;
  grpc::ClientContext context_;
  const v1::GenerateRequest request_;
  v1::GenerateResponse response_;
  RequestRecord record_;
};

v1::GenerateRequest ToGenerateRequest(const RequestSpec& spec, const SamplingOptions& sampling) {
  v1::GenerateRequest request;
  if (spec.text.has_value()) {
    request.set_text(*spec.text);
  } else {
    request.mutable_token_ids()->mutable_ids()->Assign(spec.token_ids.begin(),
                                                       spec.token_ids.end());
  }
  request.set_max_tokens(spec.max_tokens);
  request.set_ignore_eos(true);
  request.set_temperature(sampling.temperature);
  request.set_priority(sampling.priority);
  return request;
}

StreamClient::StreamClient(std::shared_ptr<grpc::Channel> channel, Clock::time_point start,
                           SamplingOptions sampling)
    : LoadClient(start), stub_(v1::Inference::NewStub(std::move(channel))), sampling_(sampling) {}

StreamClient::~StreamClient() {
  CancelAll();
  std::vector<RequestRecord> ignored;
  while (in_flight() > 0) WaitForFinished(Clock::now() + std::chrono::seconds(1), &ignored);
}

void StreamClient::Start(const RequestSpec& spec, RequestRecord record) {
  const v1::GenerateRequest request = ToGenerateRequest(spec, sampling_);
  Call* call = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = next_id_++;
    auto owned = std::make_unique<Call>(this, id, request, std::move(record));
    call = owned.get();
    calls_.emplace(id, std::move(owned));
  }
  // Outside the lock: a call may finish (OnDone -> OnCallDone) at once. Only
  // this thread frees calls, so `call` stays valid here.
  call->Start(stub_.get());
}

void StreamClient::OnCallDone(uint64_t id) {
  // Notify under the lock: once it is released the owner may collect this
  // call, see nothing in flight and destroy the client (and finished_cv_)
  // before a notify made after the unlock would run.
  std::lock_guard<std::mutex> lock(mutex_);
  finished_.push_back(id);
  finished_cv_.notify_one();
}

void StreamClient::WaitForFinished(Clock::time_point deadline, std::vector<RequestRecord>* out) {
  std::vector<std::unique_ptr<Call>> done;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_cv_.wait_until(lock, deadline, [this] { return !finished_.empty(); });
    for (uint64_t id : finished_) {
      auto it = calls_.find(id);
      done.push_back(std::move(it->second));
      calls_.erase(it);
    }
    finished_.clear();
  }
  for (std::unique_ptr<Call>& call : done) out->push_back(call->TakeRecord());
}

int64_t StreamClient::in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(calls_.size());
}

void StreamClient::CancelAll() {
  std::vector<Call*> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, call] : calls_) running.push_back(call.get());
  }
  // Outside the lock (a cancelled call's OnDone may run on this thread); the
  // calls stay alive because only this thread frees them.
  for (Call* call : running) call->Cancel();
}

}  // namespace inferd::inferload
