// tests/unit/kernels/moe_test.cc — MoeRoute and MoeExperts against naive
// per-token double references, plus bit-for-bit batch and thread invariance.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::Near;
using testing::RandomVector;

// Reference routing for one token: softmax in double, stable sort of ids by
// logit descending, i.e. by exact probability (a double probability can
// underflow to 0 and fake a tie), so ties keep the lower id first.
void RefRoute(const float* logits, int64_t ne, int64_t k, bool renormalize,
              std::vector<int32_t>* ids, std::vector<double>* weights) {
  double m = logits[0];
  for (int64_t e = 1; e < ne; ++e) m = std::max<double>(m, logits[e]);
  std::vector<double> p(ne);
  double sum = 0;
  for (int64_t e = 0; e < ne; ++e) sum += p[e] = std::exp(logits[e] - m);
  for (double& v : p) v /= sum;
  std::vector<int32_t> order(ne);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ids->assign(order.begin(), order.begin() + k);
  weights->clear();
  double top = 0;
  for (int64_t j = 0; j < k; ++j) top += p[order[j]];
  for (int64_t j = 0; j < k; ++j) weights->push_back(p[order[j]] / (renormalize ? top : 1.0));
}

void ExpectRouteMatches(const std::vector<float>& logits, int64_t n, int64_t ne, int64_t k,
                        bool renormalize) {
  std::vector<int32_t> ids(n * k, -1);
  std::vector<float> w(n * k, NAN);
  MoeRoute(logits.data(), n, ne, k, renormalize, ids.data(), w.data());
  std::vector<int32_t> ref_ids;
  std::vector<double> ref_w;
  for (int64_t t = 0; t < n; ++t) {
    RefRoute(logits.data() + t * ne, ne, k, renormalize, &ref_ids, &ref_w);
    for (int64_t j = 0; j < k; ++j) {
      ASSERT_EQ(ids[t * k + j], ref_ids[j]) << "t=" << t << " j=" << j << " E=" << ne;
      ASSERT_TRUE(Near(w[t * k + j], ref_w[j], 1e-9, 1e-6)) << "t=" << t << " j=" << j;
    }
  }
}

TEST(KernelsMoeRoute, MatchesReference) {
  uint32_t seed = 1;
  for (int64_t ne : {1, 8, 60}) {
    for (int64_t k : {1, 2, 4, 8}) {
      if (k > ne) continue;
      for (int64_t n : {1, 3, 17, 64}) {
        for (bool renorm : {false, true}) {
          ExpectRouteMatches(RandomVector(n * ne, seed++, -4.0f, 4.0f), n, ne, k, renorm);
        }
      }
    }
  }
}

TEST(KernelsMoeRoute, ExactTiesTakeLowerIdFirst) {
  // Expert logits with exact ties: 3 at ids 1, 2, 4; 2 at 3 and 5; 1 at 0.
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f, 2.0f};
  std::vector<int32_t> ids(5);
  std::vector<float> w(5);
  MoeRoute(logits.data(), 1, 6, 5, false, ids.data(), w.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2, 4, 3, 5}));
  EXPECT_EQ(w[0], w[1]);
  EXPECT_EQ(w[1], w[2]);
  EXPECT_EQ(w[3], w[4]);
  ExpectRouteMatches(logits, 1, 6, 5, true);
  // All equal: ids 0..k-1, each weight 1/E (1/k when renormalised).
  const std::vector<float> flat(8, 0.5f);
  MoeRoute(flat.data(), 1, 8, 4, false, ids.data(), w.data());
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(ids[j], j);
    EXPECT_FLOAT_EQ(w[j], 0.125f);
  }
  MoeRoute(flat.data(), 1, 8, 4, true, ids.data(), w.data());
  for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(w[j], 0.25f);
}

TEST(KernelsMoeRoute, LargeLogitsStayFinite) {
  const std::vector<float> logits = {-300.0f, 250.0f, 80.0f, 249.0f, -1e30f, 1e4f};
  std::vector<int32_t> ids(3);
  std::vector<float> w(3);
  MoeRoute(logits.data(), 1, 6, 3, false, ids.data(), w.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{5, 1, 3}));
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[1], 0.0f);
  ExpectRouteMatches(logits, 1, 6, 3, true);
}

// One MoE problem: inputs, routing, and MoeExperts' output for it.
struct MoeCase {
  int64_t n, k, hidden, inter, ne;
  std::vector<float> x, weights, gate_up, down;
  std::vector<int32_t> ids;

  MoeCase(int64_t n_, int64_t k_, int64_t hidden_, int64_t inter_, int64_t ne_, uint32_t seed)
      : n(n_), k(k_), hidden(hidden_), inter(inter_), ne(ne_) {
    x = RandomVector(n * hidden, seed);
    gate_up = RandomVector(ne * 2 * inter * hidden, seed + 1, -0.5f, 0.5f);
    down = RandomVector(ne * hidden * inter, seed + 2, -0.5f, 0.5f);
    const auto logits = RandomVector(n * ne, seed + 3, -3.0f, 3.0f);
    ids.resize(n * k);
    weights.resize(n * k);
    MoeRoute(logits.data(), n, ne, k, false, ids.data(), weights.data());
  }

  // MoeExperts on tokens [t0, t0 + count); scratch starts as NaN.
  std::vector<float> Run(int64_t t0, int64_t count) const {
    return testing::RunMoeExperts({.x = x.data(),
                                   .ids = ids.data(),
                                   .weights = weights.data(),
                                   .gate_up = gate_up.data(),
                                   .down = down.data(),
                                   .k = k,
                                   .hidden = hidden,
                                   .inter = inter,
                                   .num_experts = ne},
                                  t0, count);
  }
};

// Naive per-token reference in double. The tolerance scale is a first-order
// bound on the float rounding: Σ_j |w_j| Σ_i |down_hi| (|u_i| G_i + |s_i| U_i + |a_i|),
// with G, U the Σ|terms| of the gate/up dot products.
void ExpectExpertsMatch(const MoeCase& c, const std::vector<float>& out) {
  int failures = 0;
  const int64_t h = c.hidden, in = c.inter;
  std::vector<double> act(in), bound(in);
  for (int64_t t = 0; t < c.n; ++t) {
    std::vector<double> ref(h, 0.0), mag(h, 0.0);
    const float* xt = c.x.data() + t * h;
    for (int64_t j = 0; j < c.k; ++j) {
      const int64_t e = c.ids[t * c.k + j];
      const double wj = c.weights[t * c.k + j];
      const float* gu = c.gate_up.data() + e * 2 * in * h;
      const float* dn = c.down.data() + e * h * in;
      for (int64_t i = 0; i < in; ++i) {
        double g = 0, u = 0, gm = 0, um = 0;
        for (int64_t q = 0; q < h; ++q) {
          g += double(gu[i * h + q]) * xt[q];
          u += double(gu[(in + i) * h + q]) * xt[q];
          gm += std::fabs(double(gu[i * h + q]) * xt[q]);
          um += std::fabs(double(gu[(in + i) * h + q]) * xt[q]);
        }
        const double s = g / (1.0 + std::exp(-g));
        act[i] = s * u;
        bound[i] = std::fabs(u) * gm + std::fabs(s) * um + std::fabs(act[i]);
      }
      for (int64_t o = 0; o < h; ++o) {
        double y = 0, ym = 0;
        for (int64_t i = 0; i < in; ++i) {
          y += double(dn[o * in + i]) * act[i];
          ym += std::fabs(double(dn[o * in + i])) * bound[i];
        }
        ref[o] += wj * y;
        mag[o] += std::fabs(wj) * ym;
      }
    }
    for (int64_t o = 0; o < h; ++o) {
      const auto r = Near(out[t * h + o], ref[o], 1e-6, 1e-5, mag[o]);
      if (!r && ++failures <= 5) ADD_FAILURE() << "out[" << t << "," << o << "]: " << r.message();
    }
  }
  EXPECT_EQ(failures, 0) << "n=" << c.n << " k=" << c.k << " E=" << c.ne << " hidden=" << h
                         << " inter=" << in;
}

TEST(KernelsMoeExperts, MatchesReference) {
  uint32_t seed = 10;
  for (int64_t ne : {1, 8, 60}) {
    for (int64_t k : {1, 2, 4, 8}) {
      if (k > ne) continue;
      for (int64_t n : {1, 3, 17, 64}) {
        for (auto [hidden, inter] : {std::pair<int64_t, int64_t>{24, 40}, {33, 24}}) {
          const MoeCase c(n, k, hidden, inter, ne, seed += 4);
          ExpectExpertsMatch(c, c.Run(0, n));
        }
      }
    }
  }
}

TEST(KernelsMoeExperts, ExpertsWithoutTokensAreNeverRead) {
  // Only experts 2 and 5 of 8 get tokens; every other expert's weights are NaN.
  MoeCase c(17, 2, 33, 40, 8, 7);
  for (int64_t t = 0; t < c.n; ++t) {
    c.ids[t * 2] = t % 3 == 0 ? 5 : 2;
    c.ids[t * 2 + 1] = t % 3 == 0 ? 2 : 5;
  }
  for (int64_t e = 0; e < c.ne; ++e) {
    if (e == 2 || e == 5) continue;
    std::fill_n(c.gate_up.begin() + e * 2 * c.inter * c.hidden, 2 * c.inter * c.hidden, NAN);
    std::fill_n(c.down.begin() + e * c.hidden * c.inter, c.hidden * c.inter, NAN);
  }
  ExpectExpertsMatch(c, c.Run(0, c.n));
  // A token routed to the same expert twice gets both weighted copies.
  c.ids[0] = c.ids[1] = 5;
  ExpectExpertsMatch(c, c.Run(0, c.n));
}

TEST(KernelsMoeExperts, BatchInvariantBitForBit) {
  for (auto [ne, k] : {std::pair<int64_t, int64_t>{8, 2}, {60, 4}, {8, 8}}) {
    const MoeCase c(37, k, 33, 40, ne, 100 + static_cast<uint32_t>(ne * k));
    const auto all = c.Run(0, c.n);
    for (int64_t t = 0; t < c.n; ++t) {
      const auto one = c.Run(t, 1);
      ASSERT_TRUE(BitEqual(one.data(), all.data() + t * c.hidden, c.hidden))
          << "t=" << t << " E=" << ne << " k=" << k;
    }
    const auto tail = c.Run(5, 20);  // a sub-batch: different expert counts
    ASSERT_TRUE(BitEqual(tail.data(), all.data() + 5 * c.hidden, 20 * c.hidden));
  }
}

// Q8_0/Q4_0 experts (hidden and inter multiples of 32): close to the fp32
// experts on the dequantized weights (the quantized Matmul also rounds the
// activations to int8 per block of 32; matmul_quant_test.cc checks its bits
// against a scalar reference), and batch-invariant.
TEST(KernelsMoeExperts, QuantizedExpertsCloseToF32OnDequantizedWeights) {
  MoeCase c(19, 2, 64, 96, 6, 77);
  for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
    auto quantize = [&](std::vector<float>& w, int64_t k) {  // w becomes its dequantized self
      std::vector<uint8_t> q(static_cast<size_t>(DTypeBytes(t, static_cast<int64_t>(w.size()))));
      const int64_t rows = static_cast<int64_t>(w.size()) / k;
      for (int64_t r = 0; r < rows; ++r) {
        QuantizeRow(t, w.data() + r * k, k, q.data() + DTypeBytes(t, r * k));
        DequantizeRow(t, q.data() + DTypeBytes(t, r * k), k, w.data() + r * k);
      }
      return q;
    };
    MoeCase d = c;
    const auto gate_up_q = quantize(d.gate_up, d.hidden);
    const auto down_q = quantize(d.down, d.inter);
    const testing::MoeBatch qb{.x = d.x.data(),
                               .ids = d.ids.data(),
                               .weights = d.weights.data(),
                               .gate_up = gate_up_q.data(),
                               .down = down_q.data(),
                               .weight_dtype = t,
                               .k = d.k,
                               .hidden = d.hidden,
                               .inter = d.inter,
                               .num_experts = d.ne};
    const auto want = d.Run(0, d.n);  // fp32 experts holding the dequantized values
    const auto got = testing::RunMoeExperts(qb, 0, d.n);
    double err = 0, norm = 0;
    for (int64_t e = 0; e < d.n * d.hidden; ++e) {
      err += (got[e] - want[e]) * (got[e] - want[e]);
      norm += want[e] * want[e];
    }
    ASSERT_GT(norm, 0.0);
    EXPECT_LT(std::sqrt(err / norm), 2e-2) << DTypeName(t);
    for (int64_t tok : {0, 7, 18}) {
      const auto one = testing::RunMoeExperts(qb, tok, 1);
      ASSERT_TRUE(BitEqual(one.data(), got.data() + tok * d.hidden, d.hidden)) << tok;
    }
  }
}

TEST(KernelsMoeExperts, ThreadCountInvariantBitForBit) {
  // Big enough that Matmul, SiluMul and the combine split across threads.
  const MoeCase c(64, 2, 261, 200, 8, 55);
  const auto logits = RandomVector(c.n * 60, 56);
  std::vector<std::vector<float>> outs;
  std::vector<std::vector<float>> route_w;
  std::vector<std::vector<int32_t>> route_ids;
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    outs.push_back(c.Run(0, c.n));
    route_ids.emplace_back(c.n * 4);
    route_w.emplace_back(c.n * 4);
    MoeRoute(logits.data(), c.n, 60, 4, true, route_ids.back().data(), route_w.back().data());
  }
  SetNumThreads(0);
  ExpectExpertsMatch(c, outs[0]);
  for (size_t i = 1; i < outs.size(); ++i) {
    EXPECT_TRUE(BitEqual(outs[0].data(), outs[i].data(), c.n * c.hidden)) << i;
    EXPECT_EQ(route_ids[0], route_ids[i]);
    EXPECT_TRUE(BitEqual(route_w[0].data(), route_w[i].data(), c.n * 4)) << i;
  }
}

}  // namespace
}  // namespace inferd::kernels
