// engine/output_channel.cc
#include "engine/output_channel.h"

#include <utility>

namespace inferd::engine {

namespace {
// Appends `next` to `into`: the merged chunk reads as both in order.
void Merge(RequestOutput& into, RequestOutput&& next) {
  into.token_ids.insert(into.token_ids.end(), next.token_ids.begin(), next.token_ids.end());
  into.text += next.text;
  for (TokenLogprob& lp : next.logprobs) into.logprobs.push_back(std::move(lp));
  into.finished = next.finished;
  into.finish_reason = next.finish_reason;
  into.usage = next.usage;
  if (!next.status.ok()) into.status = next.status;
}
}  // namespace

void OutputChannel::SetNotify(std::function<void()> notify) { notify_ = std::move(notify); }

void OutputChannel::Push(RequestOutput output) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;  // nothing after the final chunk
    finished_ = output.finished;
    if (pending_.has_value()) {
      Merge(*pending_, std::move(output));
    } else {
      pending_ = std::move(output);
    }
  }
  if (notify_) notify_();
}

std::optional<RequestOutput> OutputChannel::TryPop() {
  absl::MutexLock lock(&mu_);
  std::optional<RequestOutput> out = std::move(pending_);
  pending_.reset();
  return out;
}

RequestOutput OutputChannel::WaitPop() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::optional<RequestOutput>* p) { return p->has_value(); }, &pending_));
  RequestOutput out = std::move(*pending_);
  pending_.reset();
  return out;
}

bool OutputChannel::finished_pushed() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}

}  // namespace inferd::engine
