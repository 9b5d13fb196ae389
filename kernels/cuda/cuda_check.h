// kernels/cuda/cuda_check.h — every CUDA runtime and cuBLAS call is checked,
// reporting file:line (STYLE rule 8). For invariants only: a failed call
// aborts with the error string.
#ifndef INFERD_KERNELS_CUDA_CUDA_CHECK_H_
#define INFERD_KERNELS_CUDA_CUDA_CHECK_H_

#include <cublas_api.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CUDA_CHECK(expr)                                                          \
  do {                                                                            \
    cudaError_t err_ = (expr);                                                    \
    if (err_ != cudaSuccess) {                                                    \
      std::fprintf(stderr, "%s:%d: CUDA error %s: %s (%s)\n", __FILE__, __LINE__, \
                   cudaGetErrorName(err_), cudaGetErrorString(err_), #expr);      \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#define CUBLAS_CHECK(expr)                                                          \
  do {                                                                              \
    cublasStatus_t st_ = (expr);                                                    \
    if (st_ != CUBLAS_STATUS_SUCCESS) {                                             \
      std::fprintf(stderr, "%s:%d: cuBLAS error %s: %s (%s)\n", __FILE__, __LINE__, \
                   cublasGetStatusName(st_), cublasGetStatusString(st_), #expr);    \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#endif  // INFERD_KERNELS_CUDA_CUDA_CHECK_H_
