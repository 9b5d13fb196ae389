// kernels/cuda/device_info.cu
#include "kernels/cuda/device_info.h"

#include <cuda_runtime.h>

namespace inferd::kernels::cuda {

DeviceInfo QueryDevices() {
  DeviceInfo info;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.error = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return info;
  }
  info.count = count;
  if (count > 0) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      info.name = prop.name;
      info.compute_major = prop.major;
      info.compute_minor = prop.minor;
      info.total_memory = static_cast<long long>(prop.totalGlobalMem);
    }
  }
  return info;
}

}  // namespace inferd::kernels::cuda
