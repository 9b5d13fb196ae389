// kernels/cuda/cublas_handle.h — an owning cuBLAS handle with its own
// workspace (plain cudaMalloc), as cuBLAS needs for GEMMs captured in CUDA
// graphs. One per engine (per stream); not thread-safe, like the handle.
#ifndef INFERD_KERNELS_CUDA_CUBLAS_HANDLE_H_
#define INFERD_KERNELS_CUDA_CUBLAS_HANDLE_H_

#include <cublas_api.h>

#include <cstddef>

#include "kernels/cuda/device_buffer.h"

namespace inferd::kernels::cuda {

class CublasHandle {
 public:
  static constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLAS's advice for Hopper

  // Creates the handle on the current device; aborts (CUBLAS_CHECK) when
  // cuBLAS cannot start.
  CublasHandle();
  ~CublasHandle();
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
};

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_CUBLAS_HANDLE_H_
