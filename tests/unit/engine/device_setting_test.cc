// tests/unit/engine/device_setting_test.cc — --device and
// --gpu-memory-utilization as the engine applies them, on whatever machine
// runs the suite: auto takes CUDA only where the plugin loads and reports a
// device, else the CPU (on CI and the development machine: the CPU).
#include <string>

#include "engine/backend/cuda_backend.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

EngineConfig Config(DeviceSetting device) {
  EngineConfig cfg;
  cfg.model_dir = testing::SharedPath("models/stories260K");
  cfg.kv_cache_memory_bytes = 16 << 20;
  cfg.device = device;
  cfg.gpu_memory_utilization = 0.2;  // a share, should a GPU be there
  return cfg;
}

TEST(DeviceSettingTest, ParsesTheThreeSpellings) {
  EXPECT_EQ(*ParseDeviceSetting("cpu"), DeviceSetting::kCpu);
  EXPECT_EQ(*ParseDeviceSetting("cuda"), DeviceSetting::kCuda);
  EXPECT_EQ(*ParseDeviceSetting("auto"), DeviceSetting::kAuto);
  EXPECT_EQ(ParseDeviceSetting("gpu").status().code(), absl::StatusCode::kInvalidArgument);
  // The default stays the CPU until the GPU check has passed (docs/gpu.md).
  EXPECT_EQ(EngineConfig().device, DeviceSetting::kCpu);
  EXPECT_EQ(EngineConfig().gpu_memory_utilization, 0.9);
}

TEST(DeviceSettingTest, AutoIsCudaOnlyWhereADeviceIsFound) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  const int devices = CudaDeviceCount();
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(Config(DeviceSetting::kAuto));
  ASSERT_TRUE(e.ok()) << e.status();
  const ModelInfo& info = (*e)->model_info();
  if (devices == 0) {
    EXPECT_EQ(info.device.rfind("cpu", 0), 0u) << info.device;
    // The CPU pool is --kv-cache-memory's.
    EXPECT_LE(info.kv_cache_bytes, 16 << 20);
    EXPECT_GT(info.kv_cache_bytes, (16 << 20) / 2);
  } else {
    EXPECT_EQ(info.device.rfind("cuda:0", 0), 0u) << info.device;
  }
}

TEST(DeviceSettingTest, CudaWithoutADeviceFailsClearly) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present";
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(Config(DeviceSetting::kCuda));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition) << e.status();
  EXPECT_NE(e.status().message().find("--device cuda"), absl::string_view::npos) << e.status();
}

TEST(DeviceSettingTest, RejectsUtilizationOutsideZeroToOne) {
  for (double u : {0.0, 1.5, -1.0}) {
    EngineConfig cfg = Config(DeviceSetting::kCpu);
    cfg.gpu_memory_utilization = u;
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(cfg);
    ASSERT_FALSE(e.ok()) << u;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << e.status();
    EXPECT_NE(e.status().message().find("gpu_memory_utilization"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace inferd::engine
