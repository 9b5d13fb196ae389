// tests/unit/kernels/kernel_test_util.h — random inputs and comparisons shared
// by the CPU kernel tests.
#ifndef INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu_isa.h"
#include "kernels/ops.h"

namespace inferd::kernels::testing {

// Uniform in [lo, hi), never exactly zero.
inline std::vector<float> RandomVector(int64_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    do {
      x = dist(rng);
    } while (x == 0.0f);
  }
  return v;
}

// Runs f(isa) once on every CPU kernel path this CPU can run
// (kernels/cpu_isa.h), with that path active, then restores the path that was
// active before. Paths the CPU lacks are named in the test's log.
template <typename F>
void ForEachCpuIsa(F&& f) {
  const CpuIsa before = ActiveCpuIsa();
  for (CpuIsa isa : kCpuIsas) {
    if (!SetCpuIsa(isa)) {
      std::printf("[   SKIP   ] path %s: this CPU cannot run it\n", CpuIsaName(isa));
      continue;
    }
    SCOPED_TRACE(std::string("cpu path ") + CpuIsaName(isa));
    f(isa);
  }
  SetCpuIsa(before);
}

// True when a and b hold the same bits.
inline bool BitEqual(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, sizeof(float) * static_cast<size_t>(n)) == 0;
}

// |got - want| <= atol + rtol * scale, where scale defaults to |want|.
inline ::testing::AssertionResult Near(float got, double want, double atol, double rtol,
                                       double scale = -1.0) {
  if (scale < 0) scale = std::fabs(want);
  const double err = std::fabs(static_cast<double>(got) - want);
  if (std::isfinite(got) && err <= atol + rtol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << " want " << want << " err " << err << " > " << atol + rtol * scale;
}

// A routed MoE batch: tokens x [n, hidden] with their top-k ids and weights,
// and the experts' weights (kernels/ops.h MoeExpertsParams layout).
struct MoeBatch {
  const float* x = nullptr;
  const int32_t* ids = nullptr;
  const float* weights = nullptr;
  const void* gate_up = nullptr;
  const void* down = nullptr;
  DType weight_dtype = DType::kF32;
  int64_t k = 0, hidden = 0, inter = 0, num_experts = 0;
};

// MoeExperts on tokens [t0, t0 + count) of `b`; the output and the scratch
// start as NaN (-7 for the int scratch), so nothing unwritten passes.
inline std::vector<float> RunMoeExperts(const MoeBatch& b, int64_t t0, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count * b.hidden), NAN);
  std::vector<float> scratch(MoeScratchFloats(count, b.k, b.hidden, b.inter), NAN);
  std::vector<int32_t> iscratch(MoeScratchInts(count, b.k, b.num_experts), -7);
  MoeExpertsParams p;
  p.x = b.x + t0 * b.hidden;
  p.topk_ids = b.ids + t0 * b.k;
  p.topk_weights = b.weights + t0 * b.k;
  p.gate_up = b.gate_up;
  p.down = b.down;
  p.weight_dtype = b.weight_dtype;
  p.out = out.data();
  p.scratch = scratch.data();
  p.int_scratch = iscratch.data();
  p.n = count;
  p.k = b.k;
  p.hidden = b.hidden;
  p.inter = b.inter;
  p.num_experts = b.num_experts;
  MoeExperts(p);
  return out;
}

}  // namespace inferd::kernels::testing

#endif  // INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_
