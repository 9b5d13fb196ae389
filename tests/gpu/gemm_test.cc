// tests/gpu/gemm_test.cc — Matmul (cuBLAS) against the CPU op: every dtype,
// odd shapes (k up to 5125), with and without bias. Tolerance: output
// rounding (2u|want|) plus fp32 accumulation in another order, relative to
// the magnitude summed, 3e-5 * (|x|·|w|ᵀ + |bias|) (see gpu_test_util.h).
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cublas_handle.h"
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

std::vector<float> Abs(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

struct Shape {
  int64_t m, n, k;
};

class CudaGemmTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaGemmTest, MatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  const double u = testing::UnitRoundoff(t);
  testing::Stream stream;
  CublasHandle handle;
  std::vector<Shape> shapes{{1, 1, 1},      {1, 769, 256}, {7, 33, 17},
                            {64, 256, 128}, {16, 1, 4096}, {3, 50, 0}};
  if (!testing::SmallMode()) shapes.push_back({129, 769, 5125});
  for (const Shape& s : shapes) {
    for (bool with_bias : {false, true}) {
      const std::vector<float> x = RoundTo(t, RandomVector(s.m * s.k, 1));
      const std::vector<float> w = RoundTo(t, RandomVector(s.n * s.k, 2));
      const std::vector<float> bias = RoundTo(t, RandomVector(s.n, 3));
      const float* b = with_bias ? bias.data() : nullptr;
      std::vector<float> want(s.m * s.n), mag(s.m * s.n);
      ::inferd::kernels::Matmul(x.data(), w.data(), b, s.m, s.n, s.k, want.data());
      const std::vector<float> abs_bias = Abs(bias);
      ::inferd::kernels::Matmul(Abs(x).data(), Abs(w).data(), with_bias ? abs_bias.data() : nullptr,
                                s.m, s.n, s.k, mag.data());
      const std::vector<double> scale(mag.begin(), mag.end());

      const DeviceBuffer dx = Upload(t, x), dw = Upload(t, w), db = Upload(t, bias);
      DeviceBuffer dout(s.m * s.n * DTypeSize(t));
      Poison(dout);
      Matmul(handle.get(), dx.data(), dw.data(), with_bias ? db.data() : nullptr, s.m, s.n, s.k,
             dout.data(), t, stream.get());
      EXPECT_TRUE(AllClose(Download(t, dout.data(), s.m * s.n), want, 1e-7, 2 * u, &scale, 3e-5))
          << s.m << "x" << s.n << "x" << s.k << (with_bias ? " with bias" : "");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaGemmTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
