// kernels/cuda/device_info.h — what CUDA devices this process can use.
// Plain C++ interface (no CUDA headers), so the engine can ask without nvcc.
#ifndef INFERD_KERNELS_CUDA_DEVICE_INFO_H_
#define INFERD_KERNELS_CUDA_DEVICE_INFO_H_

#include <string>

namespace inferd::kernels::cuda {

struct DeviceInfo {
  int count = 0;          // usable devices; 0 when no driver or no GPU
  std::string name;       // device 0
  int compute_major = 0;  // device 0
  int compute_minor = 0;
  long long total_memory = 0;  // bytes, device 0
  std::string error;           // why count is 0, when the runtime said so
};

// Never fails: a machine without a GPU or driver reports count 0.
DeviceInfo QueryDevices();

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_DEVICE_INFO_H_
