// tests/gpu/convert_test.cc — Convert between fp32, fp16 and bf16: bit-equal
// to the host's round-to-nearest-even (cuda_fp16.h / cuda_bf16.h), special
// values included; widening and same-type copies exact.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::BitEqual;
using testing::Download;
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;

// Random values over many magnitudes, plus the awkward ones.
std::vector<float> Inputs() {
  std::vector<float> v = RandomVector(10007, 7, -3.0f, 3.0f);
  for (size_t i = 0; i < v.size(); i += 3) v[i] = std::ldexp(v[i], static_cast<int>(i % 60) - 30);
  const float inf = std::numeric_limits<float>::infinity();
  v.insert(v.end(), {0.0f, -0.0f, inf, -inf, 65504.0f, 65520.0f, 1e-8f, -3e-40f, 1.0f + 0x1p-8f,
                     1.0f + 0x1p-9f, 1.0f + 3 * 0x1p-9f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                     std::numeric_limits<float>::max()});
  return v;
}

TEST(CudaConvertTest, NarrowingRoundsToNearestEven) {
  INFERD_REQUIRE_GPU();
  testing::Stream stream;
  const std::vector<float> in = Inputs();
  const int64_t n = static_cast<int64_t>(in.size());
  const DeviceBuffer src = Upload(DType::kF32, in);
  for (DType t : {DType::kF16, DType::kBF16}) {
    DeviceBuffer dst(n * DTypeSize(t));
    Poison(dst);
    Convert(src.data(), DType::kF32, dst.data(), t, n, stream.get());
    EXPECT_TRUE(BitEqual(Download(t, dst.data(), n), RoundTo(t, in))) << DTypeName(t);
  }
}

TEST(CudaConvertTest, WideningAndCopiesAreExact) {
  INFERD_REQUIRE_GPU();
  testing::Stream stream;
  const std::vector<float> in = Inputs();
  const int64_t n = static_cast<int64_t>(in.size());
  for (DType from : testing::AllDTypes()) {
    const std::vector<float> values = RoundTo(from, in);
    const DeviceBuffer src = Upload(from, values);
    for (DType to : testing::AllDTypes()) {
      DeviceBuffer dst(n * DTypeSize(to));
      Poison(dst);
      Convert(src.data(), from, dst.data(), to, n, stream.get());
      EXPECT_TRUE(BitEqual(Download(to, dst.data(), n), RoundTo(to, values)))
          << DTypeName(from) << " -> " << DTypeName(to);
    }
  }
}

}  // namespace
}  // namespace inferd::kernels::cuda
