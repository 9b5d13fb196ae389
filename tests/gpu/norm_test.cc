// tests/gpu/norm_test.cc — RmsNorm and AddRmsNorm against the CPU ops,
// every dtype, odd hidden sizes, in place too. AddRmsNorm normalises the
// residual as stored (rounded to the dtype), so its reference is the CPU Add
// (rounded) followed by the CPU RmsNorm.
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

class CudaNormTest : public ::testing::TestWithParam<DType> {
 protected:
  ::testing::AssertionResult Close(const std::vector<float>& got, const std::vector<float>& want) {
    const double u = testing::UnitRoundoff(GetParam());
    return AllClose(got, want, 1e-6, 2 * u + 1e-6);
  }
};

TEST_P(CudaNormTest, RmsNorm) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 5, 33}) {
    for (int64_t hidden : {1, 7, 64, 769, 4096}) {
      const std::vector<float> x = RoundTo(t, RandomVector(n * hidden, 1, -3.0f, 3.0f));
      const std::vector<float> w = RoundTo(t, RandomVector(hidden, 2, 0.5f, 1.5f));
      std::vector<float> want(n * hidden);
      ::inferd::kernels::RmsNorm(x.data(), w.data(), n, hidden, 1e-5f, want.data());
      const DeviceBuffer dx = Upload(t, x), dw = Upload(t, w);
      DeviceBuffer dout(n * hidden * DTypeSize(t));
      Poison(dout);
      RmsNorm(dx.data(), dw.data(), n, hidden, 1e-5f, dout.data(), t, stream.get());
      EXPECT_TRUE(Close(Download(t, dout.data(), n * hidden), want))
          << "n " << n << " hidden " << hidden;
      RmsNorm(dx.data(), dw.data(), n, hidden, 1e-5f, dx.data(), t, stream.get());  // in place
      EXPECT_TRUE(Close(Download(t, dx.data(), n * hidden), want)) << "in place";
    }
  }
}

TEST_P(CudaNormTest, AddRmsNorm) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t n : {1, 4, 19}) {
    for (int64_t hidden : {3, 64, 1000, 5120}) {
      const std::vector<float> res = RoundTo(t, RandomVector(n * hidden, 3, -3.0f, 3.0f));
      const std::vector<float> x = RoundTo(t, RandomVector(n * hidden, 4, -3.0f, 3.0f));
      const std::vector<float> w = RoundTo(t, RandomVector(hidden, 5, 0.5f, 1.5f));
      std::vector<float> want_res(n * hidden);
      ::inferd::kernels::Add(res.data(), x.data(), n * hidden, want_res.data());
      want_res = RoundTo(t, want_res);
      std::vector<float> want(n * hidden);
      ::inferd::kernels::RmsNorm(want_res.data(), w.data(), n, hidden, 1e-6f, want.data());

      const DeviceBuffer dres = Upload(t, res), dx = Upload(t, x), dw = Upload(t, w);
      DeviceBuffer dout(n * hidden * DTypeSize(t));
      Poison(dout);
      AddRmsNorm(dres.data(), dx.data(), dw.data(), n, hidden, 1e-6f, dout.data(), t, stream.get());
      EXPECT_TRUE(Close(Download(t, dres.data(), n * hidden), want_res)) << "residual";
      EXPECT_TRUE(Close(Download(t, dout.data(), n * hidden), want))
          << "n " << n << " hidden " << hidden;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaNormTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
