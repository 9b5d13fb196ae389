// tests/gpu/rope_test.cc — Rope against the CPU op: every dtype, head dims
// from 2 to 256, Llama 2 and Llama 3 style frequencies, positions up to
// 131071 (large angles are where a different angle rule would show). The
// fused RopeWriteKvCache against the CPU's Rope + Rope + WriteKvCache, and
// bit-equal to the three CUDA ops.
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

using testing::AllClose;
using testing::Download;
using testing::RandomVector;
using testing::RoundTo;
using testing::Upload;
using testing::UploadRaw;

std::vector<float> InvFreq(int64_t head_dim, double theta) {
  std::vector<float> f(head_dim / 2);
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    f[i] = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(2 * i) / head_dim));
  }
  return f;
}

class CudaRopeTest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaRopeTest, MatchesCpu) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  const double u = testing::UnitRoundoff(t);
  testing::Stream stream;
  for (double theta : {10000.0, 500000.0}) {
    for (int64_t head_dim : {2, 8, 64, 128, 256}) {
      for (int64_t heads : {1, 3, 8}) {
        const int64_t n = 41;
        std::vector<int32_t> pos(n);
        std::mt19937 rng(static_cast<uint32_t>(head_dim * 10 + heads));
        for (auto& p : pos) p = static_cast<int32_t>(rng() % 131072);
        pos[0] = 0;
        pos[1] = 1;
        const std::vector<float> inv_freq = InvFreq(head_dim, theta);
        const std::vector<float> x = RoundTo(t, RandomVector(n * heads * head_dim, 9));
        std::vector<float> want = x;
        ::inferd::kernels::Rope(want.data(), pos.data(), n, heads, head_dim, inv_freq.data());

        const DeviceBuffer dx = Upload(t, x);
        const DeviceBuffer dpos = UploadRaw(pos);
        const DeviceBuffer dfreq = UploadRaw(inv_freq);
        Rope(dx.data(), dpos.as<int32_t>(), n, heads, head_dim, dfreq.as<float>(), t, stream.get());
        // In place, so nothing to poison: a missed element keeps x, which
        // the comparison catches in every row at a position > 0.
        EXPECT_TRUE(
            AllClose(Download(t, dx.data(), n * heads * head_dim), want, 1e-6, 2 * u + 1e-6))
            << "theta " << theta << " head_dim " << head_dim << " heads " << heads;
      }
    }
  }
}

TEST_P(CudaRopeTest, FusedWithKvCacheWrite) {
  INFERD_REQUIRE_GPU();
  const DType t = GetParam();
  const double u = testing::UnitRoundoff(t);
  testing::Stream stream;
  const int64_t n = 23, hq = 8, hkv = 2, head_dim = 64, kv_dim = hkv * head_dim;
  const int64_t num_slots = 64;
  std::vector<int32_t> pos(n), slots(n);
  for (int64_t i = 0; i < n; ++i) {
    pos[i] = static_cast<int32_t>(1000 + 37 * i);
    slots[i] = static_cast<int32_t>((i * 7) % num_slots);
  }
  slots[4] = -1;  // padding: rotated but not cached
  const std::vector<float> inv_freq = InvFreq(head_dim, 10000.0);
  const std::vector<float> q = RoundTo(t, RandomVector(n * hq * head_dim, 1));
  const std::vector<float> k = RoundTo(t, RandomVector(n * kv_dim, 2));
  const std::vector<float> v = RoundTo(t, RandomVector(n * kv_dim, 3));
  const std::vector<float> cache0 = RoundTo(t, RandomVector(num_slots * kv_dim, 4));

  // CPU: Rope(q), Rope(k), WriteKvCache(k, v).
  std::vector<float> want_q = q, want_k = k, want_kc = cache0, want_vc = cache0;
  ::inferd::kernels::Rope(want_q.data(), pos.data(), n, hq, head_dim, inv_freq.data());
  ::inferd::kernels::Rope(want_k.data(), pos.data(), n, hkv, head_dim, inv_freq.data());
  want_k = RoundTo(t, want_k);  // the cache holds the rotated k as stored
  ::inferd::kernels::WriteKvCache(want_k.data(), v.data(), slots.data(), n, kv_dim, want_kc.data(),
                                  want_vc.data());

  const DeviceBuffer dpos = UploadRaw(pos), dslots = UploadRaw(slots), dfreq = UploadRaw(inv_freq);
  const DeviceBuffer dq = Upload(t, q), dk = Upload(t, k), dv = Upload(t, v);
  const DeviceBuffer dkc = Upload(t, cache0), dvc = Upload(t, cache0);
  RopeWriteKvCache(dq.data(), dk.data(), dv.data(), dpos.as<int32_t>(), dslots.as<int32_t>(), n, hq,
                   hkv, head_dim, dfreq.as<float>(), dkc.data(), dvc.data(), t, stream.get());
  const std::vector<float> got_q = Download(t, dq.data(), n * hq * head_dim);
  const std::vector<float> got_k = Download(t, dk.data(), n * kv_dim);
  const std::vector<float> got_kc = Download(t, dkc.data(), num_slots * kv_dim);
  const std::vector<float> got_vc = Download(t, dvc.data(), num_slots * kv_dim);
  EXPECT_TRUE(AllClose(got_q, want_q, 1e-6, 2 * u + 1e-6)) << "q";
  EXPECT_TRUE(AllClose(got_k, want_k, 1e-6, 2 * u + 1e-6)) << "k";
  EXPECT_TRUE(AllClose(got_kc, want_kc, 1e-6, 2 * u + 1e-6)) << "k cache";
  EXPECT_TRUE(testing::BitEqual(got_vc, want_vc)) << "v cache";

  // The three CUDA ops give the same bits.
  const DeviceBuffer sq = Upload(t, q), sk = Upload(t, k);
  const DeviceBuffer skc = Upload(t, cache0), svc = Upload(t, cache0);
  Rope(sq.data(), dpos.as<int32_t>(), n, hq, head_dim, dfreq.as<float>(), t, stream.get());
  Rope(sk.data(), dpos.as<int32_t>(), n, hkv, head_dim, dfreq.as<float>(), t, stream.get());
  WriteKvCache(sk.data(), dv.data(), dslots.as<int32_t>(), n, kv_dim, skc.data(), svc.data(), t,
               stream.get());
  EXPECT_TRUE(testing::BitEqual(got_q, Download(t, sq.data(), n * hq * head_dim)));
  EXPECT_TRUE(testing::BitEqual(got_k, Download(t, sk.data(), n * kv_dim)));
  EXPECT_TRUE(testing::BitEqual(got_kc, Download(t, skc.data(), num_slots * kv_dim)));
  EXPECT_TRUE(testing::BitEqual(got_vc, Download(t, svc.data(), num_slots * kv_dim)));
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaRopeTest, ::testing::ValuesIn(testing::AllDTypes()),
                         testing::DTypeParamName);

}  // namespace
}  // namespace inferd::kernels::cuda
