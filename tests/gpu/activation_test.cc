// tests/gpu/activation_test.cc — Add, SiluMul, AddSilu and SigmoidGatedAdd
// against the CPU ops (AddSilu: the CPU backend's fp32 expression), every
// dtype, odd sizes; elementwise tolerance (see gpu_test_util.h).
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::AllClose;
using testing::Download;
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;

class CudaActivationTest : public ::testing::TestWithParam<DType> {
 protected:
  // |got - want| <= 2u|want| + 1e-6 (|want| + 1)
  ::testing::AssertionResult Close(const std::vector<float>& got, const std::vector<float>& want) {
    const double u = testing::UnitRoundoff(GetParam());
    return AllClose(got, want, 1e-6, 2 * u + 1e-6);
  }
};

TEST_P(CudaActivationTest, Add) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 7, 1000, 100003}) {
    const std::vector<float> a = RoundTo(t, RandomVector(n, 1, -4.0f, 4.0f));
    const std::vector<float> b = RoundTo(t, RandomVector(n, 2, -4.0f, 4.0f));
    std::vector<float> want(n);
    ::inferd::kernels::Add(a.data(), b.data(), n, want.data());
    const DeviceBuffer da = Upload(t, a), db = Upload(t, b);
    DeviceBuffer dout(n * DTypeSize(t));
    Poison(dout);
    Add(da.data(), db.data(), n, dout.data(), t, stream.get());
    EXPECT_TRUE(Close(Download(t, dout.data(), n), want)) << "n " << n;
    // In place: out aliases a.
    Add(da.data(), db.data(), n, da.data(), t, stream.get());
    EXPECT_TRUE(Close(Download(t, da.data(), n), want)) << "in place, n " << n;
  }
}

TEST_P(CudaActivationTest, SiluMul) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 5, 33}) {
    for (int64_t inter : {1, 7, 352, 1409}) {
      const std::vector<float> gu = RoundTo(t, RandomVector(n * 2 * inter, 3, -6.0f, 6.0f));
      std::vector<float> want(n * inter);
      ::inferd::kernels::SiluMul(gu.data(), n, inter, want.data());
      const DeviceBuffer dgu = Upload(t, gu);
      DeviceBuffer dout(n * inter * DTypeSize(t));
      Poison(dout);
      SiluMul(dgu.data(), n, inter, dout.data(), t, stream.get());
      EXPECT_TRUE(Close(Download(t, dout.data(), n * inter), want))
          << "n " << n << " inter " << inter;
    }
  }
}

TEST_P(CudaActivationTest, AddSilu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 7, 1000, 4099}) {
    const std::vector<float> x = RoundTo(t, RandomVector(n, 7, -3.0f, 3.0f));
    const std::vector<float> z = RoundTo(t, RandomVector(n, 8, -8.0f, 8.0f));
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = x[i] + z[i] / (1.0f + std::exp(-z[i]));
    const DeviceBuffer dx = Upload(t, x), dz = Upload(t, z);
    DeviceBuffer dout(n * DTypeSize(t));
    Poison(dout);
    AddSilu(dx.data(), dz.data(), n, dout.data(), t, stream.get());
    EXPECT_TRUE(Close(Download(t, dout.data(), n), want)) << "n " << n;
  }
}

TEST_P(CudaActivationTest, SigmoidGatedAdd) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 6, 41}) {
    for (int64_t hidden : {1, 9, 896}) {
      const std::vector<float> gate = RoundTo(t, RandomVector(n, 4, -5.0f, 5.0f));
      const std::vector<float> y = RoundTo(t, RandomVector(n * hidden, 5, -2.0f, 2.0f));
      const std::vector<float> out0 = RoundTo(t, RandomVector(n * hidden, 6, -2.0f, 2.0f));
      std::vector<float> want = out0;
      ::inferd::kernels::SigmoidGatedAdd(gate.data(), y.data(), n, hidden, want.data());
      const DeviceBuffer dgate = Upload(t, gate), dy = Upload(t, y);
      const DeviceBuffer dout = Upload(t, out0);  // accumulated into: no poison
      SigmoidGatedAdd(dgate.data(), dy.data(), n, hidden, dout.data(), t, stream.get());
      EXPECT_TRUE(Close(Download(t, dout.data(), n * hidden), want))
          << "n " << n << " hidden " << hidden;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaActivationTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
