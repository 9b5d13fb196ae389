// tests/gpu/embedding_test.cc — Embedding against the CPU op (bit-equal: a
// gather), and an id out of range gives a NaN row, not a stray read.
#include <cmath>
#include <cstdint>
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
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;
using testing::UploadRaw;

class CudaEmbeddingTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaEmbeddingTest, MatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t hidden : {1, 7, 64, 769}) {
    const int64_t vocab = 1031;
    const int64_t n = 37;
    const std::vector<float> table = RoundTo(t, RandomVector(vocab * hidden, 1 + hidden));
    std::vector<int32_t> ids(n);
    std::mt19937 rng(static_cast<uint32_t>(hidden));
    for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
    ids[0] = 0;
    ids[1] = static_cast<int32_t>(vocab - 1);
    std::vector<float> want(n * hidden);
    ::inferd::kernels::Embedding(table.data(), vocab, hidden, ids.data(), n, want.data());

    const DeviceBuffer d_table = Upload(t, table);
    const DeviceBuffer d_ids = UploadRaw(ids);
    DeviceBuffer d_out(n * hidden * DTypeSize(t));
    Poison(d_out);
    Embedding(d_table.data(), vocab, hidden, d_ids.as<int32_t>(), n, d_out.data(), t, stream.get());
    EXPECT_TRUE(BitEqual(Download(t, d_out.data(), n * hidden), want)) << "hidden " << hidden;
  }
}

TEST_P(CudaEmbeddingTest, IdOutOfRangeGivesNanRow) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  const int64_t vocab = 10, hidden = 33;
  const std::vector<float> table = RoundTo(t, RandomVector(vocab * hidden, 3));
  const std::vector<int32_t> ids{2, -1, 10, 9};
  const DeviceBuffer d_table = Upload(t, table);
  const DeviceBuffer d_ids = UploadRaw(ids);
  DeviceBuffer d_out(4 * hidden * DTypeSize(t));
  Poison(d_out, 0);  // zeros: the expected NaN must be written
  Embedding(d_table.data(), vocab, hidden, d_ids.as<int32_t>(), 4, d_out.data(), t, stream.get());
  const std::vector<float> got = Download(t, d_out.data(), 4 * hidden);
  for (int64_t j = 0; j < hidden; ++j) {
    EXPECT_EQ(got[j], table[2 * hidden + j]);
    EXPECT_TRUE(std::isnan(got[hidden + j]));
    EXPECT_TRUE(std::isnan(got[2 * hidden + j]));
    EXPECT_EQ(got[3 * hidden + j], table[9 * hidden + j]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaEmbeddingTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
