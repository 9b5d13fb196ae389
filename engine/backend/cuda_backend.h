// engine/backend/cuda_backend.h — the Backend on one NVIDIA GPU, reached
// through a plugin: tensors in device memory (plain cudaMalloc), ops by
// kernels/cuda (cuda_ops.h) on one stream with one cuBLAS handle,
// activations in the weights' dtype (fp32, fp16 or bf16: tensor cores need
// 16-bit inputs), fp32 accumulation.
//
// Why a plugin: linking the CUDA runtime and cuBLAS into every binary puts
// their thread-local storage into each thread's static TLS, and threads with
// small stacks (civetweb's metrics workers: 100 KiB) then fail to start
// (pthread_create EINVAL). So, as ggml's dynamically loaded backends do, the
// CUDA backend is a shared library (libinferd_backend_cuda.so, built where
// CMake found nvcc) that the engine dlopen()s only when --device asks for
// CUDA; binaries without it, or machines without a GPU, run on the CPU.
// The library is looked up at $INFERD_CUDA_BACKEND, next to the running
// executable, then at the path of the build that produced this binary.
//
// Status: compiled in CI (no GPU there); checked on a GPU by
// tests/gpu/cuda_backend_test.cc through scripts/gpu_check.sh. Restriction
// the engine checks at start-up: the KV cache dtype equals the compute dtype
// (the CUDA attention takes one dtype).
#ifndef INFERD_ENGINE_BACKEND_CUDA_BACKEND_H_
#define INFERD_ENGINE_BACKEND_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"

namespace inferd::engine {

// CUDA devices this process can use: 0 without the plugin, a driver or a GPU.
// Never fails.
int CudaDeviceCount();

// A backend on CUDA device 0 computing in `activation_dtype`.
// FAILED_PRECONDITION naming the reason when there is no plugin or no device.
absl::StatusOr<std::shared_ptr<Backend>> CreateCudaBackend(DType activation_dtype);

}  // namespace inferd::engine

// The plugin's entry points (defined in cuda_backend.cc, looked up by name).
extern "C" {
// CUDA devices usable (0 when none; `error` gets the runtime's reason).
int inferd_cuda_device_count(char* error, int error_len);
// A new CudaBackend (owned by the caller; delete through Backend*), or null
// with the reason in `error`.
inferd::engine::Backend* inferd_create_cuda_backend(int dtype, char* error, int error_len);
}

#endif  // INFERD_ENGINE_BACKEND_CUDA_BACKEND_H_
