// kernels/cuda/cublas_handle.cc
#include "kernels/cuda/cublas_handle.h"

#include <cublas_v2.h>

#include "kernels/cuda/cuda_check.h"

namespace inferd::kernels::cuda {

CublasHandle::CublasHandle() : workspace_(kWorkspaceBytes) {
  CUBLAS_CHECK(cublasCreate(&handle_));
  CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_.data(), workspace_.bytes()));
  // Plain fp32 math for fp32 GEMMs (no TF32 down-conversion).
  CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
}

CublasHandle::~CublasHandle() {
  if (handle_ != nullptr) CUBLAS_CHECK(cublasDestroy(handle_));
}

}  // namespace inferd::kernels::cuda
