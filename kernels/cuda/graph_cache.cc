// kernels/cuda/graph_cache.cc
#include "kernels/cuda/graph_cache.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_check.h"

namespace inferd::kernels::cuda {
namespace {

absl::Status CudaError(cudaError_t err, const char* what) {
  return absl::InternalError(
      absl::StrCat(what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
}

}  // namespace

GraphCache::~GraphCache() { Clear(); }

absl::Status GraphCache::Capture(int64_t key, cudaStream_t stream,
                                 const std::function<void(cudaStream_t)>& record) {
  cudaError_t err = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
    return CudaError(err, "cudaStreamBeginCapture");
  }
  record(stream);
  cudaGraph_t graph = nullptr;
  err = cudaStreamEndCapture(stream, &graph);
  // An illegal call inside `record` invalidates the capture; EndCapture then
  // fails and ends capture mode, so the stream is usable again.
  if (err != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
    return CudaError(err, "stream capture");
  }
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, graph, 0);
  if (err != cudaSuccess) {
    cudaGraphDestroy(graph);
    cudaGetLastError();
    return CudaError(err, "cudaGraphInstantiate");
  }
  auto it = graphs_.find(key);
  if (it != graphs_.end()) {
    CUDA_CHECK(cudaGraphExecDestroy(it->second.exec));
    CUDA_CHECK(cudaGraphDestroy(it->second.graph));
    graphs_.erase(it);
  }
  graphs_.emplace(key, Entry{graph, exec});
  return absl::OkStatus();
}

absl::Status GraphCache::Replay(int64_t key, cudaStream_t stream) const {
  auto it = graphs_.find(key);
  if (it == graphs_.end()) return absl::NotFoundError(absl::StrCat("no graph for key ", key));
  CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream));
  return absl::OkStatus();
}

void GraphCache::Clear() {
  for (auto& [key, e] : graphs_) {
    CUDA_CHECK(cudaGraphExecDestroy(e.exec));
    CUDA_CHECK(cudaGraphDestroy(e.graph));
  }
  graphs_.clear();
}

}  // namespace inferd::kernels::cuda
