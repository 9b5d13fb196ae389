// tests/gpu/argmax_test.cc — Argmax per row against the CPU op (exact): odd
// and vocabulary-sized rows, repeated maxima (lowest index wins), NaN
// (never wins), all -inf or NaN (index 0).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::DownloadRaw;
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;

class CudaArgmaxTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaArgmaxTest, MatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t n : {1, 7, 256, 32000, 128256}) {
    const int64_t rows = 9;
    std::vector<float> x =
        RoundTo(t, RandomVector(rows * n, static_cast<uint32_t>(n), -8.0f, 8.0f));
    // Row 1: the maximum repeated (first at n/2, again at the end and at n/3).
    x[n + n / 2] = 100.0f;
    x[n + n - 1] = 100.0f;
    x[n + n / 3] = 100.0f;
    // Row 2: NaNs everywhere but one value.
    for (int64_t i = 0; i < n; ++i) x[2 * n + i] = nan;
    x[2 * n + n - 1] = -5.0f;
    // Row 3: all -inf.  Row 4: all NaN.  Row 5: NaN and -inf.
    for (int64_t i = 0; i < n; ++i) {
      x[3 * n + i] = -inf;
      x[4 * n + i] = nan;
      x[5 * n + i] = i % 2 ? nan : -inf;
    }
    // Row 6: +inf twice.
    x[6 * n + n - 1] = inf;
    x[6 * n + n / 2] = inf;
    std::vector<int32_t> want(rows);
    for (int64_t r = 0; r < rows; ++r) {
      want[r] = static_cast<int32_t>(::inferd::kernels::Argmax(x.data() + r * n, n));
    }
    const DeviceBuffer dx = Upload(t, x);
    DeviceBuffer dout(rows * sizeof(int32_t));
    Poison(dout);
    Argmax(dx.data(), rows, n, t, dout.as<int32_t>(), stream.get());
    EXPECT_EQ(DownloadRaw<int32_t>(dout.data(), rows), want) << "n " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaArgmaxTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
