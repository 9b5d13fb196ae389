// engine/output_channel.h — the per-request stream from the engine thread to
// one reader (a gRPC reactor or the offline CLI).
//
// The engine thread Push()es; it never blocks: when the reader lags, pending
// chunks are merged into one (token ids appended, text concatenated), so the
// channel holds at most one pending chunk and memory stays bounded by the
// request's own output. The reader either polls TryPop() after a notification
// or blocks in WaitPop(). Thread-safe.
#ifndef INFERD_ENGINE_OUTPUT_CHANNEL_H_
#define INFERD_ENGINE_OUTPUT_CHANNEL_H_

#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/request.h"

namespace inferd::engine {

class OutputChannel {
 public:
  // Called (from the engine thread, without the channel's lock held) after
  // every Push. Must be cheap and must not block. Set it before the request
  // can produce output (i.e. before Submit returns the channel to others).
  void SetNotify(std::function<void()> notify);

  // Engine side. After a chunk with finished == true nothing more is pushed.
  void Push(RequestOutput output);

  // Reader side: the pending chunk, if any (merged).
  std::optional<RequestOutput> TryPop();
  // Blocks until a chunk is pending; returns it.
  RequestOutput WaitPop();
  bool finished_pushed() const;

 private:
  mutable absl::Mutex mu_;
  std::optional<RequestOutput> pending_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> notify_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_OUTPUT_CHANNEL_H_
