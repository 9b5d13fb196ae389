// tests/gpu/moe_test.cc — MoeRoute and MoeExperts against the CPU ops.
// Routing: ids equal, weights within 1e-6 relative (both softmax in double),
// on logits rounded to the dtype (bf16 logits tie often: the tie rule is
// exercised). Experts: every dtype, odd hidden/inter sizes, 8 to 128
// experts, k 1 to 8, a skewed routing where one expert gets every token
// (several row tiles) and most experts none. Tolerance 16u (|want| + rms) for
// fp16/bf16 (the expert's activations are stored in the dtype), 1e-5 for fp32.
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_util.h"

namespace inferd::kernels::cuda {
namespace {

using testing::AllClose;
using testing::Download;
using testing::DownloadRaw;
using testing::Poison;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;
using testing::UploadRaw;

class CudaMoeTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaMoeTest, RouteMatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  for (int64_t experts : {8, 60, 128}) {
    for (int64_t k : {1, 2, 4, 8}) {
      for (bool renorm : {false, true}) {
        const int64_t n = 97;
        // Coarse logits so that the dtype rounding creates ties.
        const std::vector<float> logits =
            RoundTo(t, RandomVector(n * experts, static_cast<uint32_t>(experts + k), -4.0f, 4.0f));
        std::vector<int32_t> want_ids(n * k);
        std::vector<float> want_w(n * k);
        ::inferd::kernels::MoeRoute(logits.data(), n, experts, k, renorm, want_ids.data(),
                                    want_w.data());
        const DeviceBuffer dlogits = Upload(t, logits);
        DeviceBuffer dids(n * k * sizeof(int32_t)), dw(n * k * sizeof(float));
        Poison(dids);
        Poison(dw);
        MoeRoute(dlogits.data(), t, n, experts, k, renorm, dids.as<int32_t>(), dw.as<float>(),
                 stream.get());
        EXPECT_EQ(DownloadRaw<int32_t>(dids.data(), n * k), want_ids)
            << "experts " << experts << " k " << k;
        EXPECT_TRUE(AllClose(DownloadRaw<float>(dw.data(), n * k), want_w, 1e-9, 1e-6))
            << "experts " << experts << " k " << k << " renorm " << renorm;
      }
    }
  }
}

struct ExpertCase {
  int64_t n, k, hidden, inter, experts;
  bool skewed;  // every token routed to expert 1 in slot 0
};

TEST_P(CudaMoeTest, ExpertsMatchCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  testing::Stream stream;
  std::vector<ExpertCase> cases{{1, 2, 64, 32, 8, false},
                                {5, 1, 72, 40, 8, false},
                                {33, 2, 136, 96, 60, false},
                                {70, 4, 128, 64, 16, true},
                                {9, 8, 64, 48, 128, false}};
  if (!testing::SmallMode()) cases.push_back({300, 2, 512, 352, 8, false});
  const double c = t == DType::kF32 ? 1e-5 : 16 * testing::UnitRoundoff(t);
  uint32_t seed = 1;
  for (const ExpertCase& ec : cases) {
    const int64_t n = ec.n, k = ec.k, hidden = ec.hidden, inter = ec.inter, ne = ec.experts;
    const std::vector<float> x = RoundTo(t, RandomVector(n * hidden, seed++));
    const std::vector<float> gate_up =
        RoundTo(t, RandomVector(ne * 2 * inter * hidden, seed++, -0.2f, 0.2f));
    const std::vector<float> down =
        RoundTo(t, RandomVector(ne * hidden * inter, seed++, -0.2f, 0.2f));
    // Routing from real logits (distinct experts per token), then skew.
    const std::vector<float> logits = RandomVector(n * ne, seed++);
    std::vector<int32_t> ids(n * k);
    std::vector<float> weights(n * k);
    ::inferd::kernels::MoeRoute(logits.data(), n, ne, k, true, ids.data(), weights.data());
    if (ec.skewed) {
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < k; ++j) {
          if (ids[i * k + j] == 1) ids[i * k + j] = ids[i * k];
        }
        ids[i * k] = 1;
      }
    }
    std::vector<float> want(n * hidden);
    std::vector<float> scratch(::inferd::kernels::MoeScratchFloats(n, k, hidden, inter));
    std::vector<int32_t> int_scratch(::inferd::kernels::MoeScratchInts(n, k, ne));
    ::inferd::kernels::MoeExpertsParams p;
    p.x = x.data();
    p.topk_ids = ids.data();
    p.topk_weights = weights.data();
    p.gate_up = gate_up.data();
    p.down = down.data();
    p.out = want.data();
    p.scratch = scratch.data();
    p.int_scratch = int_scratch.data();
    p.n = n;
    p.k = k;
    p.hidden = hidden;
    p.inter = inter;
    p.num_experts = ne;
    ::inferd::kernels::MoeExperts(p);

    const DeviceBuffer dx = Upload(t, x), dgu = Upload(t, gate_up), ddown = Upload(t, down);
    const DeviceBuffer dids = UploadRaw(ids), dw = UploadRaw(weights);
    DeviceBuffer dout(n * hidden * DTypeSize(t));
    DeviceBuffer dscratch(MoeScratchBytes(t, n, k, hidden, inter));
    DeviceBuffer dints(MoeScratchInts(n, k, ne) * sizeof(int32_t));
    Poison(dout);
    Poison(dscratch);
    Poison(dints);
    MoeExpertsArgs a;
    a.dtype = t;
    a.x = dx.data();
    a.topk_ids = dids.as<int32_t>();
    a.topk_weights = dw.as<float>();
    a.gate_up = dgu.data();
    a.down = ddown.data();
    a.out = dout.data();
    a.scratch = dscratch.data();
    a.int_scratch = dints.as<int32_t>();
    a.n = n;
    a.k = k;
    a.hidden = hidden;
    a.inter = inter;
    a.num_experts = ne;
    MoeExperts(a, stream.get());
    const double rms = testing::Rms(want);
    EXPECT_TRUE(AllClose(Download(t, dout.data(), n * hidden), want, c * rms, c))
        << "n " << n << " k " << k << " hidden " << hidden << " inter " << inter << " experts "
        << ne << (ec.skewed ? " skewed" : "");
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaMoeTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
