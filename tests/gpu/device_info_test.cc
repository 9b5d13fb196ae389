// Labelled gpu: runs where a CUDA device exists, skips (with the runtime's
// reason) elsewhere. CPU-only CI still builds it.
#include "kernels/cuda/device_info.h"

#include "gtest/gtest.h"

namespace inferd::kernels::cuda {
namespace {

TEST(CudaDeviceInfoTest, ReportsTheFirstDevice) {
  DeviceInfo info = QueryDevices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.error;
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.compute_major, 7);
  EXPECT_GT(info.total_memory, 0);
}

}  // namespace
}  // namespace inferd::kernels::cuda
