// kernels/cuda/dtype.h — the element types of the CUDA backend's tensors.
// Plain C++ (no CUDA headers), so the engine can name a dtype without nvcc.
//
// Activations, weights and the KV cache are stored as one of these; every
// kernel accumulates in fp32 whatever the storage type.
#ifndef INFERD_KERNELS_CUDA_DTYPE_H_
#define INFERD_KERNELS_CUDA_DTYPE_H_

#include <cstdint>

namespace inferd::kernels::cuda {

enum class DType : int32_t {
  kF32 = 0,   // IEEE binary32
  kF16 = 1,   // IEEE binary16
  kBF16 = 2,  // bfloat16 (the top half of a binary32)
};

// Bytes per element.
constexpr int64_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// "fp32", "fp16", "bf16" (the spelling of --dtype).
constexpr const char* DTypeName(DType t) {
  return t == DType::kF32 ? "fp32" : t == DType::kF16 ? "fp16" : "bf16";
}

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_DTYPE_H_
