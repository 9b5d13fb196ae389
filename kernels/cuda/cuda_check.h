// kernels/cuda/cuda_check.h — every CUDA runtime and cuBLAS call is checked,
// reporting file:line (STYLE rule 8). For invariants only: a failed call
// aborts with the error string.
#ifndef INFERD_KERNELS_CUDA_CUDA_CHECK_H_
#define INFERD_KERNELS_CUDA_CUDA_CHECK_H_

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

#endif  // INFERD_KERNELS_CUDA_CUDA_CHECK_H_
