// kernels/cuda/dtype.h — the CUDA backend names the project's one DType
// (kernels/dtype.h) in its own namespace, so cuda_ops.h reads as before.
#ifndef INFERD_KERNELS_CUDA_DTYPE_H_
#define INFERD_KERNELS_CUDA_DTYPE_H_

#include "kernels/dtype.h"

namespace inferd::kernels::cuda {

using ::inferd::kernels::DType;
using ::inferd::kernels::DTypeName;
using ::inferd::kernels::DTypeSize;

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_DTYPE_H_
