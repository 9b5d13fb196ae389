// common/host_buffer.h — a large block of host memory the server owns:
// weights and the KV cache.
//
// Uninitialised (pages are touched only when written), 2 MiB-aligned and
// marked for transparent huge pages when it is large: a model's weights are
// streamed once per decoded token, and 4 KiB pages would cost a TLB miss
// every few rows. Anonymous memory, never a file mapping: a checkpoint
// replaced or truncated under a running server cannot fault it.
#ifndef INFERD_COMMON_HOST_BUFFER_H_
#define INFERD_COMMON_HOST_BUFFER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace inferd {

class HostBuffer {
 public:
  HostBuffer() = default;
  // RESOURCE_EXHAUSTED (naming the size) when the memory cannot be had.
  static absl::StatusOr<HostBuffer> Allocate(int64_t bytes);

  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  void* data() { return data_; }
  const void* data() const { return data_; }
  int64_t bytes() const { return bytes_; }

 private:
  void Release();
  void* data_ = nullptr;
  int64_t bytes_ = 0;
  size_t mapped_ = 0;  // bytes mapped (0: data_ came from aligned_alloc)
};

}  // namespace inferd

#endif  // INFERD_COMMON_HOST_BUFFER_H_
