// tests/gpu/kv_cache_test.cc — WriteKvCache and CopyKvSlots against the CPU
// ops (bit-equal: copies). Negative slots skip rows and untouched slots stay
// as they were; moves are sequential (chains and a swap through a temporary).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::BitEqual;
using testing::Download;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;
using testing::UploadRaw;

class CudaKvCacheTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaKvCacheTest, WriteKvCacheMatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t kv_dim : {8, 136, 1024}) {
    const int64_t num_slots = 7 * 16;
    const int64_t n = 29;
    std::vector<int32_t> slots(num_slots);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), std::mt19937(static_cast<uint32_t>(kv_dim)));
    slots.resize(n);
    slots[3] = -1;  // padding rows
    slots[17] = -5;
    const std::vector<float> k = RoundTo(t, RandomVector(n * kv_dim, 1));
    const std::vector<float> v = RoundTo(t, RandomVector(n * kv_dim, 2));
    std::vector<float> kc = RoundTo(t, RandomVector(num_slots * kv_dim, 3));
    std::vector<float> vc = RoundTo(t, RandomVector(num_slots * kv_dim, 4));
    const DeviceBuffer dk = Upload(t, k), dv = Upload(t, v), dslots = UploadRaw(slots);
    const DeviceBuffer dkc = Upload(t, kc), dvc = Upload(t, vc);
    ::inferd::kernels::WriteKvCache(k.data(), v.data(), slots.data(), n, kv_dim, kc.data(),
                                    vc.data());
    WriteKvCache(dk.data(), dv.data(), dslots.as<int32_t>(), n, kv_dim, dkc.data(), dvc.data(), t,
                 stream.get());
    EXPECT_TRUE(BitEqual(Download(t, dkc.data(), num_slots * kv_dim), kc)) << "k, dim " << kv_dim;
    EXPECT_TRUE(BitEqual(Download(t, dvc.data(), num_slots * kv_dim), vc)) << "v, dim " << kv_dim;
  }
}

TEST_P(CudaKvCacheTest, CopyKvSlotsIsSequential) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  const int64_t kv_dim = 264;
  const int64_t num_slots = 64;
  // Accepted tree path rows moved down to consecutive slots, a chain
  // (5 -> 6 then 6 -> 7: the second move must see the first), a swap through
  // a temporary and a self-move.
  const std::vector<int32_t> src{40, 43, 47, 5, 6, 10, 11, 12, 20};
  const std::vector<int32_t> dst{41, 42, 43, 6, 7, 12, 10, 11, 20};
  std::vector<float> kc = RoundTo(t, RandomVector(num_slots * kv_dim, 5));
  std::vector<float> vc = RoundTo(t, RandomVector(num_slots * kv_dim, 6));
  const DeviceBuffer dkc = Upload(t, kc), dvc = Upload(t, vc);
  const DeviceBuffer dsrc = UploadRaw(src), ddst = UploadRaw(dst);
  ::inferd::kernels::CopyKvSlots(src.data(), dst.data(), static_cast<int64_t>(src.size()), kv_dim,
                                 kc.data(), vc.data());
  CopyKvSlots(dsrc.as<int32_t>(), ddst.as<int32_t>(), static_cast<int64_t>(src.size()), kv_dim,
              dkc.data(), dvc.data(), t, stream.get());
  EXPECT_TRUE(BitEqual(Download(t, dkc.data(), num_slots * kv_dim), kc));
  EXPECT_TRUE(BitEqual(Download(t, dvc.data(), num_slots * kv_dim), vc));
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaKvCacheTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
