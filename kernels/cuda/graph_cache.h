// kernels/cuda/graph_cache.h — CUDA graphs of repeated work (a decode step),
// captured once per key (the batch size) and replayed.
//
// A captured graph replays the exact launches it recorded: the same device
// pointers and the same host-side arguments (sizes, grids, plans). Callers
// keep inputs in persistent device buffers, write the step's data into them
// before Replay (on the same stream), and capture a key only for work whose
// host-side arguments are fixed for that key. Keys that were never captured,
// or whose capture failed, run eagerly: GraphCache never falls back by itself.
//
// Not thread-safe; one cache per engine stream.
#ifndef INFERD_KERNELS_CUDA_GRAPH_CACHE_H_
#define INFERD_KERNELS_CUDA_GRAPH_CACHE_H_

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>

#include "absl/status/status.h"

namespace inferd::kernels::cuda {

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  bool Contains(int64_t key) const { return graphs_.count(key) != 0; }
  int64_t size() const { return static_cast<int64_t>(graphs_.size()); }

  // Runs `record(stream)` under stream capture (thread-local mode) and keeps
  // the instantiated graph for `key`, replacing an older one. `record` only
  // enqueues work on the stream it is given: no synchronisation, no
  // allocation, no host reads of device data. Nothing recorded runs during
  // capture. On failure (an illegal call while capturing, or instantiation)
  // returns the CUDA error, stores nothing and leaves `stream` usable.
  absl::Status Capture(int64_t key, cudaStream_t stream,
                       const std::function<void(cudaStream_t)>& record);

  // Enqueues the graph of `key` on `stream`. NOT_FOUND when never captured.
  absl::Status Replay(int64_t key, cudaStream_t stream) const;

  // Destroys every graph.
  void Clear();

 private:
  struct Entry {
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
  };
  std::map<int64_t, Entry> graphs_;
};

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_GRAPH_CACHE_H_
